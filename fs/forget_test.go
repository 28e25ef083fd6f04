package fs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRevivedDirectory: go-fuse can hand a directory node back to the
// kernel after OnForget closed its fd (a LOOKUP racing with the FORGET).
// Such a node opens its directory again instead of failing with EBADF.
func TestRevivedDirectory(t *testing.T) {
	w := newWorld(t, files{"d/l": "lower\n"}, nil)
	defer w.unmount(t)
	if _, err := os.Stat(filepath.Join(w.mnt, "d", "l")); err != nil {
		t.Fatal(err)
	}
	d := w.srv.root.EmbeddedInode().GetChild("d")
	if d == nil {
		t.Fatal("no node for d")
	}
	d.Operations().(*dirNode).OnForget() // as if the FORGET won, then the LOOKUP revived it
	if err := os.WriteFile(filepath.Join(w.mnt, "d", "new"), []byte("x"), 0o644); err != nil {
		t.Fatalf("create in the revived directory: %v", err)
	}
	if got := readFile(t, filepath.Join(w.priv, "d", "new")); got != "x" {
		t.Errorf("private d/new holds %q", got)
	}
	if got := readFile(t, filepath.Join(w.mnt, "d", "l")); got != "lower\n" {
		t.Errorf("d/l reads %q", got)
	}
}
