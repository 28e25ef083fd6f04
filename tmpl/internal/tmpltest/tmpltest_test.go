package tmpltest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	repo, src := Demo(t, t.TempDir())
	index, err := os.ReadFile(filepath.Join(repo, "Packages"))
	Must(t, err)
	if n := strings.Count(string(index), "Package: "); n != len(DemoPackages) {
		t.Errorf("%d stanzas", n)
	}
	for _, p := range DemoPackages {
		if _, err := os.Stat(filepath.Join(repo, p.Key()+".tar.gz")); err != nil {
			t.Error(err)
		}
	}
	WriteTemplate(t, src, AppConfig("x"), map[string]string{"post-install": "#!/bin/sh\n", "packages": "\n"})
	st, err := os.Stat(filepath.Join(src, AppConfig("x"), "post-install"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("script: %v %v", st, err)
	}
	if k := (Pkg{Name: "a", Version: "1:2", Arch: "all"}).Key(); k != "a_1%3a2_all" {
		t.Errorf("key %q", k)
	}
}
