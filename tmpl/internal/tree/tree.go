// Package tree lays entries into a container's tree as the container
// sees it: every path is resolved inside the tree (RESOLVE_IN_ROOT, so a
// symlinked /bin leads to the tree's /usr/bin, never the host's), and a
// regular file of a package becomes a link entry. The cache skeleton and
// the container journal create entries through it.
package tree

import (
	"fmt"
	"path"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/tmpl/archive"
	"golang.org/x/sys/unix"
)

// ParentInRoot opens the directory of p inside the tree at root, as a
// container sees it (RESOLVE_IN_ROOT: a symlinked /bin leads to /usr/bin
// of the tree, never of the host), making missing directories (0755)
// when create. It returns the directory and p's last element.
func ParentInRoot(root int, p string, create bool) (int, string, error) {
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		fd, err := unix.Dup(root)
		return fd, name, err
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(root, dir, &how)
	if err == unix.ENOENT && create {
		pfd, pname, perr := ParentInRoot(root, dir, true)
		if perr != nil {
			return -1, "", perr
		}
		merr := unix.Mkdirat(pfd, pname, 0o755)
		unix.Close(pfd)
		if merr != nil && merr != unix.EEXIST {
			return -1, "", merr
		}
		fd, err = unix.Openat2(root, dir, &how)
	}
	if err != nil {
		return -1, "", err
	}
	return fd, name, nil
}

// Create makes e as name in dirfd of the tree at root: a regular
// file as a link entry holding value, a directory private (0700) until
// Meta, a symlink, a hard link to e.Link of the tree, a device or FIFO.
// Everything but a hard link, which shares its target's, gets its
// metadata from Meta afterwards. Skeletons and journals create entries
// this one way.
func Create(root, dirfd int, name string, e *archive.Entry, value string) error {
	switch e.Type {
	case 'f':
		fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		err = linkattr.Set(fd, value)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("set %s: %w", linkattr.Name, err)
		}
		return nil
	case 'd':
		return unix.Mkdirat(dirfd, name, 0o700)
	case 'l':
		return unix.Symlinkat(e.Link, dirfd, name)
	case 'h':
		tdir, tname, err := ParentInRoot(root, e.Link, false)
		if err != nil {
			return err
		}
		defer unix.Close(tdir)
		return unix.Linkat(tdir, tname, dirfd, name, 0)
	case 'c', 'b', 'p':
		return archive.Mknod(dirfd, name, e)
	}
	return fmt.Errorf("unknown entry type %q", e.Type)
}

// Meta gives an entry its owner, then mode, then mtime.
func Meta(dirfd int, name string, e *archive.Entry) error {
	if err := unix.Fchownat(dirfd, name, e.UID, e.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if e.Type != 'l' {
		fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Chmod(atfile.ProcPath(fd), e.Mode)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	ts := []unix.Timespec{{Sec: e.Mtime}, {Sec: e.Mtime}}
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}
