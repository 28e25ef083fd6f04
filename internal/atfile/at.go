package atfile

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// The calls below take one name relative to a directory fd (not a path:
// use Root or OpenBeneath for those), never follow a symlink in that
// name, set O_CLOEXEC, and retry a call a signal interrupted: the Go
// runtime preempts threads with signals, and neither a FUSE daemon nor a
// tool walking a container's tree may leak EINTR to its caller.

// Retry repeats call while it fails with EINTR.
func Retry[T any](call func() (T, error)) (T, error) {
	for {
		v, err := call()
		if err != unix.EINTR {
			return v, err
		}
	}
}

// Retry0 is Retry for calls that return only an error.
func Retry0(call func() error) error {
	for {
		if err := call(); err != unix.EINTR {
			return err
		}
	}
}

// Openat opens name in dirfd without following it (O_NOFOLLOW).
func Openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	return Retry(func() (int, error) {
		return unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	})
}

// Create makes the new file name in dirfd and opens it with flags: never
// an existing file, never through a symlink (O_CREAT|O_EXCL|O_NOFOLLOW).
func Create(dirfd int, name string, flags int, mode uint32) (int, error) {
	return Openat(dirfd, name, flags|unix.O_CREAT|unix.O_EXCL, mode)
}

// OpenBeneath opens the relative path p below dirfd, refusing "..",
// absolute paths, symlinks and magic links anywhere on the way: for
// paths read from a file someone else can write (link values), which
// must name something inside dirfd's tree as it is.
func OpenBeneath(dirfd int, p string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	return Retry(func() (int, error) { return unix.Openat2(dirfd, p, &how) })
}

// StatBeneath stats the relative path p below dirfd as OpenBeneath
// resolves it; a symlink as the last element is stat'ed itself.
func StatBeneath(dirfd int, p string, st *unix.Stat_t) error {
	fd, err := OpenBeneath(dirfd, p, unix.O_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return Fstatat(fd, "", st)
}

// OpenDirPath opens the directory at the trusted path dir as an O_PATH
// fd: the starting point of the *at calls (a tree's own path comes from
// configuration, not from the tree).
func OpenDirPath(dir string) (int, error) {
	return Retry(func() (int, error) {
		return unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
}

// Mkdirat makes the directory name in dirfd (an existing one, or a
// symlink there, is EEXIST).
func Mkdirat(dirfd int, name string, mode uint32) error {
	return Retry0(func() error { return unix.Mkdirat(dirfd, name, mode) })
}

// Mknodat makes the node name (a FIFO, socket, device or empty file)
// in dirfd.
func Mknodat(dirfd int, name string, mode uint32, dev int) error {
	return Retry0(func() error { return unix.Mknodat(dirfd, name, mode, dev) })
}

// Symlinkat makes the symlink name in dirfd pointing at target, which
// is stored, not resolved.
func Symlinkat(target string, dirfd int, name string) error {
	return Retry0(func() error { return unix.Symlinkat(target, dirfd, name) })
}

// Readlinkat reads the symlink name in dirfd into buf.
func Readlinkat(dirfd int, name string, buf []byte) (int, error) {
	return Retry(func() (int, error) { return unix.Readlinkat(dirfd, name, buf) })
}

// Linkat makes newname in newdir a hard link to oldname in olddir; a
// symlink is linked as itself (no AT_SYMLINK_FOLLOW).
func Linkat(olddir int, oldname string, newdir int, newname string) error {
	return Retry0(func() error { return unix.Linkat(olddir, oldname, newdir, newname, 0) })
}

// LinkFD makes newname in newdir a hard link to the open file fd (the
// file itself, whatever name it has now, or none: O_TMPFILE).
func LinkFD(fd int, newdir int, newname string) error {
	return Retry0(func() error {
		return unix.Linkat(unix.AT_FDCWD, ProcPathAt(fd, ""), newdir, newname, unix.AT_SYMLINK_FOLLOW)
	})
}

// Unlinkat removes name from dirfd (AT_REMOVEDIR for a directory); a
// symlink is removed, never followed.
func Unlinkat(dirfd int, name string, flags int) error {
	return Retry0(func() error { return unix.Unlinkat(dirfd, name, flags) })
}

// Renameat moves oldname in olddir to newname in newdir with renameat2
// flags (RENAME_NOREPLACE, RENAME_EXCHANGE); symlinks are moved as
// themselves.
func Renameat(olddir int, oldname string, newdir int, newname string, flags uint) error {
	return Retry0(func() error { return unix.Renameat2(olddir, oldname, newdir, newname, flags) })
}

// Fstatat stats name in dirfd without following it; an empty name
// stats dirfd itself.
func Fstatat(dirfd int, name string, st *unix.Stat_t) error {
	if name == "" {
		return Retry0(func() error { return unix.Fstat(dirfd, st) })
	}
	return Retry0(func() error { return unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW) })
}

// Fsync flushes fd's data and metadata.
func Fsync(fd int) error { return Retry0(func() error { return unix.Fsync(fd) }) }

// SyncDir flushes the directory dirfd (an O_PATH fd is reopened: fsync
// refuses one), making the entries just created or renamed in it
// durable.
func SyncDir(dirfd int) error {
	fd, err := Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return Fsync(fd)
}

// ProcPathAt names (dirfd, name) for the calls that have no *at form
// (chmod of an O_PATH fd, linkat of an open file): the magic link
// resolves to dirfd's inode itself, so the tree's own path never counts
// against PATH_MAX. An empty name means dirfd.
func ProcPathAt(dirfd int, name string) string {
	p := "/proc/self/fd/" + strconv.Itoa(dirfd)
	if name != "" {
		p += "/" + name
	}
	return p
}
