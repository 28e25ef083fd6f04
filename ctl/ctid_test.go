package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/testenv"
)

// Every command that takes a CTID refuses one that is a path (issue 14,
// finding 7: `mount ../x` mounted vz/x/root over vz/x), before anything
// is made or looked up.
func TestCTIDRefused(t *testing.T) {
	testenv.RequireRoot(t)
	vz := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(vz, "x", "root"), 0o755))
	for _, args := range [][]string{
		{"mount", "../x"}, {"exec", "../x", "--", "true"}, {"install", "../x", "web"}, {"update", "../x"},
		{"remove", "../x", "web"}, {"status", "../x"}, {"fsck", "../x"}, {"destroy", "../x"},
		{"create", "../x", "--ostemplate", "demo"}, {"umount", ".."},
		{"enter", "../x"}, {"set", "../x", "--hostname", "h"}, {"bundle", "../x", filepath.Join(vz, "b")},
	} {
		err := Run(append([]string{"ezctl", "--vz", vz, "--socket", filepath.Join(vz, "no.sock")}, args...))
		if err == nil || !strings.Contains(err.Error(), "bad container id") {
			t.Errorf("ezctl %s: %v, want a bad container id", strings.Join(args, " "), err)
		}
	}
	if _, err := os.Stat(filepath.Join(vz, "root")); err == nil {
		t.Error("a mountpoint was made")
	}
}
