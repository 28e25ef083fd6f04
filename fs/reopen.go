package fs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// A node stands for one private file, but the daemon reaches it by its
// parent and name, and a user of the container can put something else
// under that name at any moment (rename a fifo, a device node or another
// file over it) between the kernel's LOOKUP and the OPEN that follows.
// Opening whatever is there would block a daemon thread for good in a
// fifo's open, open a device node the mount's nodev forbids, or truncate
// or copy into a file the caller was never allowed to write.
//
// So the name is opened O_PATH first, which opens nothing of the file
// (no fifo wait, no device open, no truncation), checked to be the
// regular file the node knows (device and inode), and only that inode is
// then opened for I/O through its /proc/self/fd magic link. Anything else
// is ESTALE: the kernel looks the name up again and opens what is there
// now in the caller's own context, as on a local filesystem.
//
// O_NONBLOCK and a check after the open would still open devices (a
// watchdog's open arms it, a tty's may become the daemon's terminal) and
// apply O_TRUNC to whatever the name led to. The O_PATH open and the
// reopen cost about 3 us more per OPEN of a private file (a round trip
// through the mount is 30 to 60 us); opens of link entries, most of a
// container's, open template files and do not come here.

// openPrivate opens the node's private file (dirfd, name) with flags,
// provided it is still that file.
func (n *node) openPrivate(dirfd int, name string, flags int) (int, error) {
	return openRegular(dirfd, name, flags, n.dev, n.StableAttr().Ino)
}

// openRegular opens (dirfd, name) with flags if it is the regular file
// ino on device dev, and fails with ESTALE otherwise.
func openRegular(dirfd int, name string, flags int, dev, ino uint64) (int, error) {
	pfd, st, err := openPathOf(dirfd, name, ino)
	if err != nil {
		return -1, err
	}
	defer closeFD(pfd)
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Dev != dev {
		return -1, syscall.ESTALE
	}
	return reopenFD(pfd, flags)
}

// reopenFD opens the file fd refers to anew with flags. The magic link
// leads to fd's inode whatever its names are now.
func reopenFD(fd int, flags int) (int, error) {
	return retryEINTR(func() (int, error) {
		return unix.Open(procPath(fd, ""), flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	})
}
