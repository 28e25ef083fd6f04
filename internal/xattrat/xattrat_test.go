package xattrat

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSetGet(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirfd)
	for _, proc := range []bool{false, true} {
		UseProc(proc)
		t.Cleanup(func() { UseProc(false) })
		val := []byte("v" + map[bool]string{false: "at", true: "proc"}[proc])
		if err := Set(dirfd, "f", "user.ezfs-test", val); err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
			t.Skipf("no user attributes on %s", dir)
		} else if err != nil {
			t.Fatalf("proc=%v: set: %v", proc, err)
		}
		buf := make([]byte, 64)
		n, err := Get(dirfd, "f", "user.ezfs-test", buf)
		if err != nil || string(buf[:n]) != string(val) {
			t.Errorf("proc=%v: get %q, %v; want %q", proc, buf[:n], err, val)
		}
		// The directory itself, by an empty name.
		if _, err := Get(dirfd, "", "user.ezfs-none", buf); err != unix.ENODATA {
			t.Errorf("proc=%v: the directory: %v, want ENODATA", proc, err)
		}
		// A symlink is not followed: it holds no attribute of f's.
		if _, err := Get(dirfd, "l", "user.ezfs-test", buf); err == nil {
			t.Errorf("proc=%v: followed the symlink", proc)
		}
	}
}
