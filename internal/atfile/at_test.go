package atfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// dirWithLink makes a directory holding a file "f", a directory "d" and
// a symlink "l" to a directory outside, and returns its path and an
// O_PATH fd of it.
func dirWithLink(t *testing.T) (string, int) {
	t.Helper()
	base := t.TempDir()
	d, out := filepath.Join(base, "d"), filepath.Join(base, "out")
	for _, p := range []string{d, out, filepath.Join(d, "d")} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d, "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(out, filepath.Join(d, "l")); err != nil {
		t.Fatal(err)
	}
	fd, err := OpenDirPath(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return d, fd
}

func TestAtCalls(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(dirfd int) error
		want error // nil: succeeds
	}{
		{"open a file", func(fd int) error { return closed(Openat(fd, "f", unix.O_RDONLY, 0)) }, nil},
		{"open a symlink", func(fd int) error { return closed(Openat(fd, "l", unix.O_RDONLY, 0)) }, unix.ELOOP},
		{"create a new file", func(fd int) error { return closed(Create(fd, "new", unix.O_WRONLY, 0o600)) }, nil},
		{"create over a file", func(fd int) error { return closed(Create(fd, "f", unix.O_WRONLY, 0o600)) }, unix.EEXIST},
		{"create over a symlink", func(fd int) error { return closed(Create(fd, "l", unix.O_WRONLY, 0o600)) }, unix.EEXIST},
		{"beneath: a path", func(fd int) error { return closed(OpenBeneath(fd, "d/../f", unix.O_RDONLY)) }, nil},
		{"beneath: up and out", func(fd int) error { return closed(OpenBeneath(fd, "../d/f", unix.O_RDONLY)) }, unix.EXDEV},
		{"beneath: through a symlink", func(fd int) error { return closed(OpenBeneath(fd, "l/x", unix.O_RDONLY)) }, unix.ELOOP},
		{"stat beneath", func(fd int) error {
			var st unix.Stat_t
			if err := StatBeneath(fd, "d/../f", &st); err != nil || st.Size != 1 {
				return fmt.Errorf("size %d, %v", st.Size, err)
			}
			if err := StatBeneath(fd, "l", &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
				return fmt.Errorf("followed the symlink: %v", err)
			}
			return StatBeneath(fd, "l/x", &st)
		}, unix.ELOOP},
		{"beneath: absolute", func(fd int) error { return closed(OpenBeneath(fd, "/etc/passwd", unix.O_RDONLY)) }, unix.EXDEV},
		{"mkdir", func(fd int) error { return Mkdirat(fd, "nd", 0o755) }, nil},
		{"mkdir over a symlink", func(fd int) error { return Mkdirat(fd, "l", 0o755) }, unix.EEXIST},
		{"unlink a symlink", func(fd int) error { return Unlinkat(fd, "l", 0) }, nil},
		{"unlink a directory", func(fd int) error { return Unlinkat(fd, "d", 0) }, unix.EISDIR},
		{"rmdir", func(fd int) error { return Unlinkat(fd, "d", unix.AT_REMOVEDIR) }, nil},
		{"rename", func(fd int) error { return Renameat(fd, "f", fd, "g", 0) }, nil},
		{"rename no-replace", func(fd int) error { return Renameat(fd, "f", fd, "d", unix.RENAME_NOREPLACE) }, unix.EEXIST},
		{"stat a symlink", func(fd int) error {
			var st unix.Stat_t
			if err := Fstatat(fd, "l", &st); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFLNK {
				return errors.New("followed")
			}
			return Fstatat(fd, "", &st)
		}, nil},
		{"sync the directory", SyncDir, nil},
		{"mknod a FIFO", func(fd int) error { return Mknodat(fd, "p", unix.S_IFIFO|0o600, 0) }, nil},
		{"mknod over a symlink", func(fd int) error { return Mknodat(fd, "l", unix.S_IFIFO|0o600, 0) }, unix.EEXIST},
		{"symlink and read it", func(fd int) error {
			if err := Symlinkat("../x", fd, "s"); err != nil {
				return err
			}
			buf := make([]byte, 16)
			if n, err := Readlinkat(fd, "s", buf); err != nil || string(buf[:n]) != "../x" {
				return fmt.Errorf("read %q, %v", buf[:n], err)
			}
			return nil
		}, nil},
		{"link a symlink as itself", func(fd int) error {
			if err := Linkat(fd, "l", fd, "l2"); err != nil {
				return err
			}
			var st unix.Stat_t
			if err := Fstatat(fd, "l2", &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
				return fmt.Errorf("l2 is not the symlink: %v", err)
			}
			return nil
		}, nil},
		{"link an O_TMPFILE file", func(fd int) error {
			f, err := Openat(fd, "d", unix.O_WRONLY|unix.O_TMPFILE, 0o600)
			if err != nil {
				return err
			}
			defer unix.Close(f)
			return LinkFD(f, fd, "f2")
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, fd := dirWithLink(t)
			if err := tc.call(fd); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func closed(fd int, err error) error {
	if err == nil {
		unix.Close(fd)
	}
	return err
}

func TestRetry(t *testing.T) {
	n := 0
	v, err := Retry(func() (int, error) {
		if n++; n < 3 {
			return 0, unix.EINTR
		}
		return 7, nil
	})
	if v != 7 || err != nil || n != 3 {
		t.Errorf("Retry = %d, %v after %d calls", v, err, n)
	}
	n = 0
	if err := Retry0(func() error { n++; return unix.EIO }); err != unix.EIO || n != 1 {
		t.Errorf("Retry0 = %v after %d calls", err, n)
	}
}

func TestProcPathAt(t *testing.T) {
	if got := ProcPathAt(5, ""); got != "/proc/self/fd/5" {
		t.Error(got)
	}
	if got := ProcPathAt(5, "x"); got != "/proc/self/fd/5/x" {
		t.Error(got)
	}
}
