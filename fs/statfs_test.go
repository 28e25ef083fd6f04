package fs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStatfsOnEveryNode: fstatfs on a file or a link answers like the
// directory does, not with zeros (f_bsize 0).
func TestStatfsOnEveryNode(t *testing.T) {
	w := newWorld(t, files{"l": "lower\n"}, files{"f": "own\n", "d/g": "x"})
	var want unix.Statfs_t
	if err := unix.Statfs(w.mnt, &want); err != nil {
		t.Fatal(err)
	}
	if want.Bsize == 0 {
		t.Fatal("statfs of the root: f_bsize 0")
	}
	for _, name := range []string{"f", "l", "d", "d/g"} {
		f, err := os.Open(filepath.Join(w.mnt, name))
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Statfs_t
		err = unix.Fstatfs(int(f.Fd()), &st)
		f.Close()
		if err != nil {
			t.Fatalf("fstatfs %s: %v", name, err)
		}
		if st.Bsize != want.Bsize || st.Blocks != want.Blocks || st.Namelen != want.Namelen {
			t.Errorf("fstatfs %s: bsize %d blocks %d namelen %d, want %d %d %d", name, st.Bsize, st.Blocks, st.Namelen, want.Bsize, want.Blocks, want.Namelen)
		}
	}
}
