package fs

import (
	"github.com/ezfs/ezfs/internal/atfile"
	"golang.org/x/sys/unix"
)

// The fd-relative system calls live in internal/atfile, the one layer
// for them (never following a symlink, EINTR retried: the Go runtime
// preempts threads with signals, and a FUSE daemon must not leak EINTR
// to the container). These short names are fs's own spelling of it.

func retryEINTR[T any](call func() (T, error)) (T, error) { return atfile.Retry(call) }

func retryEINTR0(call func() error) error { return atfile.Retry0(call) }

// openat opens one name relative to dirfd and never follows a symlink in
// its last component.
func openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	return atfile.Openat(dirfd, name, flags, mode)
}

// openBeneath opens a relative path below dirfd, refusing "..", absolute
// paths, symlinks and magic links anywhere on the way: link targets come
// from a file the container can write, so they are untrusted.
func openBeneath(dirfd int, path string, flags int) (int, error) {
	return atfile.OpenBeneath(dirfd, path, flags)
}

// statAt stats name in dirfd without following it; an empty name stats
// dirfd itself.
func statAt(dirfd int, name string, st *unix.Stat_t) error { return atfile.Fstatat(dirfd, name, st) }

// procPath names (dirfd, name) for the calls that have no *at form (the
// xattr family, chmod of an O_PATH fd).
func procPath(dirfd int, name string) string { return atfile.ProcPathAt(dirfd, name) }

func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}
