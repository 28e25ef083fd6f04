package fs

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"unsafe"

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

// xattrArgs is struct xattr_args of getxattrat(2).
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// noGetxattrat is set once the kernel (older than 6.13) lacks getxattrat.
var noGetxattrat atomic.Bool

// lgetxattrAt reads attribute attr of (dirfd, name) without following a
// symlink. getxattrat saves the walk through /proc that the path-based
// call needs, which is most of the cost of a cold lookup.
func lgetxattrAt(dirfd int, name, attr string, dest []byte) (int, error) {
	if !noGetxattrat.Load() {
		n, err := getxattrat(dirfd, name, attr, dest)
		if err != unix.ENOSYS {
			return n, err
		}
		noGetxattrat.Store(true)
	}
	return retryEINTR(func() (int, error) { return unix.Lgetxattr(procPath(dirfd, name), attr, dest) })
}

func getxattrat(dirfd int, name, attr string, dest []byte) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	a, err := unix.BytePtrFromString(attr)
	if err != nil {
		return 0, err
	}
	args := xattrArgs{size: uint32(len(dest))}
	if len(dest) > 0 {
		args.value = uint64(uintptr(unsafe.Pointer(&dest[0])))
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
			unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
		runtime.KeepAlive(dest)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}
