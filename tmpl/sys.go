package tmpl

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openat opens one name relative to dirfd, never following a symlink.
func openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// openBeneath opens a relative path below dirfd with no "..", no
// absolute path and no symlink anywhere on the way.
func openBeneath(dirfd int, path string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(dirfd, path, &how)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// xattrArgs is struct xattr_args of setxattrat(2).
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// noSetxattrat is set once the kernel (older than 6.13) lacks setxattrat.
var noSetxattrat atomic.Bool

// lsetxattrAt sets attribute attr of (dirfd, name) without following a
// symlink and without opening the file: setxattrat where the kernel has
// it, the path through /proc otherwise.
func lsetxattrAt(dirfd int, name, attr string, value []byte) error {
	if !noSetxattrat.Load() {
		err := setxattrat(dirfd, name, attr, value)
		if err != unix.ENOSYS {
			return err
		}
		noSetxattrat.Store(true)
	}
	p := "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
	for {
		if err := unix.Lsetxattr(p, attr, value, 0); err != unix.EINTR {
			return err
		}
	}
}

func setxattrat(dirfd int, name, attr string, value []byte) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	a, err := unix.BytePtrFromString(attr)
	if err != nil {
		return err
	}
	args := xattrArgs{size: uint32(len(value))}
	if len(value) > 0 {
		args.value = uint64(uintptr(unsafe.Pointer(&value[0])))
	}
	for {
		_, _, e := unix.Syscall6(unix.SYS_SETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
			unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
		runtime.KeepAlive(value)
		if e != unix.EINTR {
			if e != 0 {
				return e
			}
			return nil
		}
	}
}

// mknodat creates a node by name; O_EXCL is implied.
func mknodat(dirfd int, name string, mode uint32) error {
	for {
		if err := unix.Mknodat(dirfd, name, mode, 0); err != unix.EINTR {
			return err
		}
	}
}
