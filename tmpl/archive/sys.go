package archive

import (
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

// mknodat creates a node by name; O_EXCL is implied.
func mknodat(dirfd int, name string, mode uint32) error {
	for {
		if err := unix.Mknodat(dirfd, name, mode, 0); err != unix.EINTR {
			return err
		}
	}
}
