package ctl

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/tmpl"
	"golang.org/x/sys/unix"
)

// TestUsageShared: a link entry counts the size of the template file it
// names as the mount resolves it: below the template area, through no
// symlink; a value the mount refuses counts nothing.
func TestUsageShared(t *testing.T) {
	testenv.RequireRoot(t)
	base := t.TempDir()
	area := filepath.Join(base, "template")
	writeFiles(t, area, map[string]string{"pkg/a": "0123456789"})
	writeFiles(t, base, map[string]string{"outside/a": string(make([]byte, 100))})
	if err := os.Symlink("pkg", filepath.Join(area, "lnk")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "outside"), filepath.Join(area, "out")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		value  string // "": a plain private file
		shared int64
	}{
		{"a template file", "pkg/a", 10},
		{"through a symlink in the area", "lnk/a", 0},
		{"through a symlink out of the area", "out/a", 0},
		{"a directory", "pkg", 0},
		{"missing", "pkg/none", 0},
		{"malformed", "../outside/a", 0},
		{"a private file", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			priv := t.TempDir()
			f := filepath.Join(priv, "f")
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.value != "" {
				// Written past linkattr.Check, as a damaged area could hold it.
				if err := unix.Lsetxattr(f, linkattr.Name, []byte(tc.value), 0); err != nil {
					t.Fatal(err)
				}
			}
			_, shared := usage(&tmpl.Area{Root: area}, priv, map[string]int64{})
			if shared != tc.shared {
				t.Errorf("shared %d bytes, want %d", shared, tc.shared)
			}
		})
	}
}
