package fs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFallocateDropsSetID: fallocate, hole punching and zeroing by an
// unprivileged writer clear the set-ID bits, as write and truncate do
// and as ext4 does (xfstests generic/683 to 687).
func TestFallocateDropsSetID(t *testing.T) {
	w := newWorld(t, nil, nil)
	w.reachable(t)
	cases := []struct {
		name string
		args []string
		mode os.FileMode // before, set-ID bits as os.FileMode
		want os.FileMode
	}{
		{"allocate", []string{"-l", "8192"}, 0o666 | os.ModeSetgid, 0o666},
		{"allocate-keep-size", []string{"-n", "-l", "8192"}, 0o666 | os.ModeSetuid | os.ModeSetgid, 0o666},
		{"punch-hole", []string{"-p", "-o", "0", "-l", "4096"}, 0o666 | os.ModeSetuid, 0o666},
		{"zero-range", []string{"-z", "-o", "0", "-l", "4096"}, 0o676 | os.ModeSetgid, 0o676},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(w.mnt, c.name)
			if err := os.WriteFile(p, make([]byte, 8192), 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, c.mode); err != nil {
				t.Fatal(err)
			}
			if out, err := asNobody(t, "fallocate", append(c.args, p)...); err != nil {
				t.Fatalf("fallocate %v as nobody: %v\n%s", c.args, err, out)
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode() != c.want {
				t.Errorf("mode after fallocate %v: %v, want %v", c.args, st.Mode(), c.want)
			}
			// The kernel's permission checks see the new mode too.
			bst, _ := os.Stat(filepath.Join(w.priv, c.name))
			if bst.Mode() != c.want {
				t.Errorf("backing mode %v, want %v", bst.Mode(), c.want)
			}
		})
	}
	t.Run("root keeps them", func(t *testing.T) {
		p := filepath.Join(w.mnt, "root")
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o666|os.ModeSetuid|os.ModeSetgid); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := unix.Fallocate(int(f.Fd()), 0, 0, 4096); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(p); st.Mode() != 0o666|os.ModeSetuid|os.ModeSetgid {
			t.Errorf("mode after root's fallocate: %v", st.Mode())
		}
	})
}
