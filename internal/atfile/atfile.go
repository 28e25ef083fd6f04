package atfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is an open directory that paths are resolved in.
type Root struct {
	fd   int
	Path string // for errors
}

// OpenRoot opens the directory dir (its own path is trusted: it comes
// from the node's configuration, not from the tree).
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &Root{fd: fd, Path: dir}, nil
}

// Close closes the root's fd.
func (r *Root) Close() error { return unix.Close(r.fd) }

// FD is the root's directory fd (O_PATH), for *at calls.
func (r *Root) FD() int { return r.fd }

func (r *Root) err(op, p string, err error) error {
	return &os.PathError{Op: op, Path: path.Join(r.Path, p), Err: err}
}

// openat2 resolves p in the root; p may be absolute (from the root).
func (r *Root) openat2(p string, flags uint64, mode uint64) (int, error) {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		p = "."
	}
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Mode: mode,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(r.fd, p, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			return fd, err
		}
	}
}

// Parent opens the directory of p in the root (O_PATH) and returns it
// with p's last element; with create, missing directories are made
// with mode.
func (r *Root) Parent(p string, create bool, mode uint32) (int, string, error) {
	p = path.Clean("/" + p)
	dir, name := path.Split(p)
	if name == "" {
		return -1, "", r.err("open", p, unix.EINVAL)
	}
	fd, err := r.openat2(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err == unix.ENOENT && create {
		if err := r.MkdirAll(dir, mode); err != nil {
			return -1, "", err
		}
		fd, err = r.openat2(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	}
	if err != nil {
		return -1, "", r.err("open", dir, err)
	}
	return fd, name, nil
}

// Open opens p in the root, never following its last element.
func (r *Root) Open(p string, flags int, mode uint32) (*os.File, error) {
	fd, err := r.openat2(p, uint64(flags|unix.O_NOFOLLOW), uint64(mode))
	if err != nil {
		return nil, r.err("open", p, err)
	}
	return os.NewFile(uintptr(fd), path.Join(r.Path, p)), nil
}

// ReadFile reads the regular file p.
func (r *Root) ReadFile(p string) ([]byte, error) {
	f, err := r.Open(p, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, r.err("read", p, errors.New("not a regular file"))
	}
	return io.ReadAll(f)
}

// Create makes the new file p (O_CREAT|O_EXCL|O_NOFOLLOW: never an
// existing file, never through a symlink) and writes data into it.
func (r *Root) Create(p string, data []byte, mode uint32) error {
	f, err := r.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(os.FileMode(mode & 0o777))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Remove(p)
	}
	return err
}

// Replace puts data at p: written to a new file beside it, synced, and
// renamed over whatever p is (a symlink there is replaced, not followed).
func (r *Root) Replace(p string, data []byte, mode uint32) error {
	dirfd, name, err := r.Parent(p, false, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := WriteFileAt(dirfd, name, data, mode); err != nil {
		return r.err("replace", p, err)
	}
	return nil
}

// MkdirAll makes directory p and its missing parents, inside the root.
func (r *Root) MkdirAll(p string, mode uint32) error {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	fd, err := r.openat2(p, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if err != unix.ENOENT {
		return r.err("mkdir", p, err)
	}
	if err := r.MkdirAll(path.Dir(p), mode); err != nil {
		return err
	}
	dirfd, name, err := r.Parent(p, false, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := unix.Mkdirat(dirfd, name, mode); err != nil && err != unix.EEXIST {
		return r.err("mkdir", p, err)
	}
	return nil
}

// Remove removes the file (or empty directory) p; a symlink is removed,
// not followed. A missing p is no error.
func (r *Root) Remove(p string) error {
	dirfd, name, err := r.Parent(p, false, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	err = unix.Unlinkat(dirfd, name, 0)
	if err == unix.EISDIR {
		err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	}
	if err != nil && err != unix.ENOENT {
		return r.err("remove", p, err)
	}
	return nil
}

// Lstat stats p without following its last element.
func (r *Root) Lstat(p string) (*unix.Stat_t, error) {
	dirfd, name, err := r.Parent(p, false, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, r.err("lstat", p, err)
	}
	return &st, nil
}

// ReadDirNames lists the directory p.
func (r *Root) ReadDirNames(p string) ([]string, error) {
	f, err := r.Open(p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// ProcPath names an fd for calls that take only a path (mount(2)
// targets): /proc/self/fd/N resolves to the fd's own file.
func ProcPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// Walk calls fn for every entry below the directory dirfd, parents
// before their entries, with the directory it is in (an fd valid during
// the call), its name, its path from dirfd and its lstat. No symlink is
// followed: each directory is opened from its parent with O_NOFOLLOW.
func Walk(dirfd int, fn func(dirfd int, name, rel string, st *unix.Stat_t) error) error {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	return walk(fd, "", fn)
}

// walk owns fd.
func walk(fd int, rel string, fn func(int, string, string, *unix.Stat_t) error) error {
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue // gone meanwhile
		}
		p := path.Join(rel, name)
		if err := fn(fd, name, p, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // replaced meanwhile (by a symlink: not followed)
		}
		if err := walk(sub, p, fn); err != nil {
			return err
		}
	}
	return nil
}

// OpenRegular opens (dirfd, name) for flags if it is still the regular
// file st describes: never through a symlink, never blocking on a FIFO
// or a device swapped in meanwhile.
func OpenRegular(dirfd int, name string, flags int, st *unix.Stat_t) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if now.Mode&unix.S_IFMT != unix.S_IFREG || st != nil && (now.Ino != st.Ino || now.Dev != st.Dev) {
		unix.Close(fd)
		return nil, unix.ESTALE
	}
	return os.NewFile(uintptr(fd), name), nil
}

// OpenDir opens the directory p in the root as an O_PATH fd, for calls
// that name it by ProcPath (mount targets) or as a dirfd.
func (r *Root) OpenDir(p string) (int, error) {
	fd, err := r.openat2(p, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, r.err("open", p, err)
	}
	return fd, nil
}
