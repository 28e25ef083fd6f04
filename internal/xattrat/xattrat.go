// Package xattrat reads and sets an extended attribute of (dirfd, name)
// without following a symlink and without opening the file: with
// getxattrat(2) and setxattrat(2) where the kernel has them (Linux 6.13),
// through /proc/self/fd/DIRFD/NAME otherwise. The path through /proc
// walks the magic link and the name again, most of the cost of a cold
// lookup; the fd-relative calls skip it. An empty name means dirfd
// itself, always through /proc: the kernel refuses the fd-relative calls
// on an O_PATH fd.
package xattrat

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// args is struct xattr_args of getxattrat(2) and setxattrat(2).
type args struct {
	value uint64
	size  uint32
	flags uint32
}

// noCalls is set once the kernel turned down a call with ENOSYS, or by
// a test that wants the path through /proc.
var noCalls atomic.Bool

// UseProc makes every later call take the path through /proc (on) or
// try the fd-relative calls again (off); tests use it to cover the path
// older kernels take.
func UseProc(on bool) { noCalls.Store(on) }

// Get reads attr into dest and returns its length.
func Get(dirfd int, name, attr string, dest []byte) (int, error) {
	if !noCalls.Load() && name != "" {
		n, err := call(unix.SYS_GETXATTRAT, dirfd, name, attr, dest)
		if err != unix.ENOSYS {
			return n, err
		}
		noCalls.Store(true)
	}
	for {
		n, err := unix.Lgetxattr(procPath(dirfd, name), attr, dest)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// Set sets attr to value, creating or replacing it.
func Set(dirfd int, name, attr string, value []byte) error {
	if !noCalls.Load() && name != "" {
		_, err := call(unix.SYS_SETXATTRAT, dirfd, name, attr, value)
		if err != unix.ENOSYS {
			return err
		}
		noCalls.Store(true)
	}
	for {
		if err := unix.Lsetxattr(procPath(dirfd, name), attr, value, 0); err != unix.EINTR {
			return err
		}
	}
}

func procPath(dirfd int, name string) string {
	p := "/proc/self/fd/" + strconv.Itoa(dirfd)
	if name != "" {
		p += "/" + name
	}
	return p
}

// call makes getxattrat or setxattrat, which share their arguments; buf
// is the value read or written.
func call(nr uintptr, dirfd int, name, attr string, buf []byte) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	a, err := unix.BytePtrFromString(attr)
	if err != nil {
		return 0, err
	}
	x := args{size: uint32(len(buf))}
	if len(buf) > 0 {
		x.value = uint64(uintptr(unsafe.Pointer(&buf[0])))
	}
	for {
		r, _, e := unix.Syscall6(nr, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
			unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&x)), unsafe.Sizeof(x))
		runtime.KeepAlive(buf)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}
