package ctl

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ezfs/ezfs/internal/testenv"
	"golang.org/x/sys/unix"
)

func TestSharedBytes(t *testing.T) {
	dir := testenv.Btrfs(t)
	orig, clone := filepath.Join(dir, "orig"), filepath.Join(dir, "clone")
	if err := os.WriteFile(orig, bytes.Repeat([]byte("x"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(orig)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(clone)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())); err != nil {
		t.Fatal(err)
	}
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirfd)
	sharedBytesOf := func(p string) int64 { return sharedBytesOf(dirfd, filepath.Base(p), nil) }
	if got := sharedBytesOf(clone); got != 1<<20 {
		t.Errorf("a reflinked copy shares %d bytes, want %d", got, 1<<20)
	}
	// Half of it rewritten: that half is the clone's own.
	if _, err := dst.WriteAt(bytes.Repeat([]byte("y"), 1<<19), 0); err != nil {
		t.Fatal(err)
	}
	if err := dst.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := sharedBytesOf(clone); got != 1<<19 {
		t.Errorf("after rewriting half: shares %d bytes, want %d", got, 1<<19)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("own"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := sharedBytesOf(plain); got != 0 {
		t.Errorf("a file of its own shares %d bytes", got)
	}
}
