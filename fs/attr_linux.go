package fs

import (
	"golang.org/x/sys/unix"
)

// The helpers below act on (dirfd, name) without following a symlink in
// name; an empty name means dirfd itself.

// chownAt with ino other than 0 changes (dirfd, name) only while it is
// that inode (ESTALE otherwise), as chmodAt: an owner's chgrp must not
// give its group another user's file renamed over the name.
func chownAt(dirfd int, name string, ino uint64, uid, gid int) error {
	if name != "" && ino != 0 {
		fd, _, err := openPathOf(dirfd, name, ino)
		if err != nil {
			return err
		}
		defer closeFD(fd)
		dirfd, name = fd, ""
	}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags = unix.AT_EMPTY_PATH
	}
	return retryEINTR0(func() error { return unix.Fchownat(dirfd, name, uid, gid, flags) })
}

// chmodAt goes through an O_PATH fd: fchmodat has no working
// AT_SYMLINK_NOFOLLOW before fchmodat2, and a name swapped for a symlink
// must not lead the daemon to chmod a host file. With ino other than 0,
// the name must still lead to that inode (ESTALE otherwise): the kernel
// checked the caller's right to chmod the node's file, not another
// user's renamed over its name.
func chmodAt(dirfd int, name string, ino uint64, mode uint32) error {
	if name != "" {
		fd, st, err := openPathOf(dirfd, name, ino)
		if err != nil {
			return err
		}
		defer closeFD(fd)
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return unix.EOPNOTSUPP
		}
		dirfd = fd
	}
	return retryEINTR0(func() error { return unix.Fchmodat(unix.AT_FDCWD, procPath(dirfd, ""), mode, 0) })
}

// openPathOf opens (dirfd, name) O_PATH, which opens nothing of the file
// itself, and with ino other than 0 only while it is that inode
// (ESTALE otherwise).
func openPathOf(dirfd int, name string, ino uint64) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := openat(dirfd, name, unix.O_PATH, 0)
	if err != nil {
		return -1, st, err
	}
	if err := statAt(fd, "", &st); err != nil {
		closeFD(fd)
		return -1, st, err
	}
	if ino != 0 && st.Ino != ino {
		closeFD(fd)
		return -1, st, unix.ESTALE
	}
	return fd, st, nil
}

func utimesAt(dirfd int, name string, ts [2]unix.Timespec) error {
	if name == "" {
		return retryEINTR0(func() error { return unix.UtimesNanoAt(unix.AT_FDCWD, procPath(dirfd, ""), ts[:], 0) })
	}
	return retryEINTR0(func() error { return unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW) })
}

// truncateAt prefers the caller's open handle (ftruncate); without one it
// opens the node's file for writing, and only if the name still leads to
// it (reopen.go).
func (n *node) truncateAt(dirfd int, name string, h *handle, size int64) error {
	if h != nil && h.writable {
		return retryEINTR0(func() error { return unix.Ftruncate(h.fd, size) })
	}
	if name == "" {
		var st unix.Stat_t
		if err := statAt(dirfd, "", &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return unix.EISDIR
		}
		// An unlinked file reached only through a read-only handle.
		fd, err := reopenFD(dirfd, unix.O_WRONLY)
		if err != nil {
			return err
		}
		defer closeFD(fd)
		return retryEINTR0(func() error { return unix.Ftruncate(fd, size) })
	}
	fd, err := n.openPrivate(dirfd, name, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer closeFD(fd)
	return retryEINTR0(func() error { return unix.Ftruncate(fd, size) })
}
