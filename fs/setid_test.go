package fs

import (
	"os"
	"os/exec"
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

// TestWriteDropsSetID: a write, a truncate and an open with O_TRUNC by an
// unprivileged caller clear the set-user-ID bit, and the set-group-ID bit
// of a group-executable file or of a caller outside the file's group, as
// on a local filesystem; root's keep them. Passthrough writes never reach the daemon, so the kernel must
// still be the one to clear them there.
func TestWriteDropsSetID(t *testing.T) {
	t.Run("passthrough", func(t *testing.T) { testWriteDropsSetID(t, false) })
	t.Run("no-passthrough", func(t *testing.T) { testWriteDropsSetID(t, true) })
}

func testWriteDropsSetID(t *testing.T, noPassthrough bool) {
	w := newWorld(t, nil, nil, func(o *Options) { o.NoPassthrough = noPassthrough })
	w.reachable(t)
	ops := []struct {
		name string
		sh   string // run with $1 the file
	}{
		{"append", `printf x >> "$1"`},
		{"write-rdwr", `printf x 1<> "$1"`},
		{"truncate", `truncate -s 1 "$1"`},
		{"open-trunc", `: > "$1"`},
	}
	modes := []struct {
		name       string
		mode, want os.FileMode
	}{
		{"suid", 0o666 | os.ModeSetuid, 0o666},
		{"sgid-gx", 0o676 | os.ModeSetgid, 0o676},
		{"both", 0o676 | os.ModeSetuid | os.ModeSetgid, 0o676},
		{"sgid-not-in-group", 0o666 | os.ModeSetgid, 0o666}, // nobody is not in root's group
	}
	for _, op := range ops {
		for _, m := range modes {
			for _, root := range []bool{false, true} {
				name := op.name + "-" + m.name
				if root {
					name += "-root"
				}
				t.Run(name, func(t *testing.T) {
					p := filepath.Join(w.mnt, name)
					if err := os.WriteFile(p, []byte("0123"), 0o666); err != nil {
						t.Fatal(err)
					}
					if err := os.Chmod(p, m.mode); err != nil {
						t.Fatal(err)
					}
					// The kernel has the mode cached, as it has after any stat.
					if st, err := os.Stat(p); err != nil || st.Mode() != m.mode {
						t.Fatalf("mode before: %v, %v", st, err)
					}
					want := m.want
					args := []string{"-c", op.sh, "sh", p}
					var out []byte
					var err error
					if root {
						want = m.mode
						out, err = exec.Command("sh", args...).CombinedOutput()
					} else {
						var s string
						s, err = asNobody(t, "sh", args...)
						out = []byte(s)
					}
					if err != nil {
						t.Fatalf("%s: %v\n%s", op.sh, err, out)
					}
					st, err := os.Stat(p)
					if err != nil {
						t.Fatal(err)
					}
					if st.Mode() != want {
						t.Errorf("mode after %s: %v, want %v", op.sh, st.Mode(), want)
					}
					if bst, _ := os.Stat(filepath.Join(w.priv, name)); bst.Mode() != want {
						t.Errorf("backing mode after %s: %v, want %v", op.sh, bst.Mode(), want)
					}
				})
			}
		}
	}
}

// TestWriteDropsCapabilities: a write to a file with file capabilities
// removes them, as on a local filesystem, also after the kernel has seen
// the file written without them (it then stops asking, see killpriv.go)
// and they were set since.
func TestWriteDropsCapabilities(t *testing.T) {
	if _, err := exec.LookPath("setcap"); err != nil {
		t.Skip("no setcap")
	}
	w := newWorld(t, nil, nil)
	w.reachable(t)
	p := filepath.Join(w.mnt, "f")
	if err := os.WriteFile(p, []byte("0123"), 0o666); err != nil {
		t.Fatal(err)
	}
	if out, err := asNobody(t, "sh", "-c", `printf x >> "$1"`, "sh", p); err != nil {
		t.Fatalf("write as nobody: %v\n%s", err, out)
	}
	for _, writer := range []string{"nobody", "root"} {
		if out, err := exec.Command("setcap", "cap_net_raw+ep", p).CombinedOutput(); err != nil {
			t.Fatalf("setcap: %v\n%s", err, out)
		}
		if _, err := unix.Getxattr(p, "security.capability", make([]byte, 64)); err != nil {
			t.Fatalf("capability after setcap: %v", err)
		}
		args := []string{"-c", `printf x >> "$1"`, "sh", p}
		var out []byte
		var err error
		if writer == "root" {
			out, err = exec.Command("sh", args...).CombinedOutput()
		} else {
			var s string
			s, err = asNobody(t, "sh", args...)
			out = []byte(s)
		}
		if err != nil {
			t.Fatalf("write as %s: %v\n%s", writer, err, out)
		}
		if _, err := unix.Getxattr(p, "security.capability", make([]byte, 64)); err != unix.ENODATA {
			t.Errorf("capability after a write by %s: %v, want ENODATA", writer, err)
		}
		if _, err := unix.Getxattr(filepath.Join(w.priv, "f"), "security.capability", make([]byte, 64)); err != unix.ENODATA {
			t.Errorf("backing file's capability after a write by %s: %v, want ENODATA", writer, err)
		}
	}
}
