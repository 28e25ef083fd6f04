package fs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// retryEINTR repeats a system call interrupted by a signal: the Go runtime
// preempts threads with signals, and a FUSE daemon must not leak EINTR to
// the container.
func retryEINTR[T any](call func() (T, error)) (T, error) {
	for {
		v, err := call()
		if err != unix.EINTR {
			return v, err
		}
	}
}

func retryEINTR0(call func() error) error {
	_, err := retryEINTR(func() (struct{}, error) { return struct{}{}, call() })
	return err
}

// openat opens one name relative to dirfd and never follows a symlink in
// its last component.
func openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	return retryEINTR(func() (int, error) {
		return unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	})
}

// openBeneath opens a relative path below dirfd, refusing "..", absolute
// paths, symlinks and magic links anywhere on the way: link targets come
// from a file the container can write, so they are untrusted.
func openBeneath(dirfd int, path string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	return retryEINTR(func() (int, error) { return unix.Openat2(dirfd, path, &how) })
}

// statAt stats name in dirfd without following it; an empty name stats
// dirfd itself.
func statAt(dirfd int, name string, st *unix.Stat_t) error {
	if name == "" {
		return retryEINTR0(func() error { return unix.Fstat(dirfd, st) })
	}
	return retryEINTR0(func() error { return unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW) })
}

// procPath names (dirfd, name) for the calls that have no *at form (the
// xattr family, chmod of an O_PATH fd). The magic link resolves to dirfd's
// inode itself, so the backing root's path never counts against PATH_MAX.
func procPath(dirfd int, name string) string {
	p := "/proc/self/fd/" + strconv.Itoa(dirfd)
	if name != "" {
		p += "/" + name
	}
	return p
}

func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}
