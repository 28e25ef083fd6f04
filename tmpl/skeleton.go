package tmpl

import (
	"fmt"
	"path"
	"strings"

	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/repo"
	"golang.org/x/sys/unix"
)

// Skeleton lays out packages in a container tree: directories, symlinks
// and special files as the package has them, every regular file a link
// entry to the package's file in the template area. Parents are resolved
// inside the tree as the container will see it (RESOLVE_IN_ROOT: a
// symlinked /bin leads to /usr/bin of the tree, never of the host).
type Skeleton struct {
	root    int // the container's root/ directory
	area    *Area
	owner   map[string]string // path -> package key that put it there
	Warning func(format string, args ...any)
}

// NewSkeleton builds into the directory rootfd.
func NewSkeleton(rootfd int, area *Area) *Skeleton {
	return &Skeleton{root: rootfd, area: area, owner: map[string]string{}, Warning: func(string, ...any) {}}
}

// LinkValue is the link attribute value for a package file.
func LinkValue(area *Area, p *repo.Installed, e *archive.Entry) string {
	return path.Join(p.RelDir(area.Root), e.Path)
}

// Add lays out one package. Where two packages have the same file, the
// later one wins and a warning says so.
func (s *Skeleton) Add(p *repo.Installed) error {
	for i := range p.Entries {
		e := &p.Entries[i]
		if err := s.add(p, e); err != nil {
			return fmt.Errorf("package %s: %s: %w", p.Key, e.Path, err)
		}
	}
	return nil
}

// parent opens the directory of p inside the tree.
func (s *Skeleton) parent(p string) (int, string, error) { return parentInRoot(s.root, p, true) }

// parentInRoot opens the directory of p inside the tree at root, as a
// container sees it (RESOLVE_IN_ROOT: a symlinked /bin leads to /usr/bin
// of the tree, never of the host), making missing directories (0755)
// when create. It returns the directory and p's last element.
func parentInRoot(root int, p string, create bool) (int, string, error) {
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
		pfd, pname, perr := parentInRoot(root, dir, true)
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

func (s *Skeleton) add(p *repo.Installed, e *archive.Entry) error {
	dirfd, name, err := s.parent(e.Path)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	exists := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	if e.Type == 'd' {
		if exists && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil // shared directory: the first package's metadata stays
		}
		if exists && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return nil // a directory symlink of the tree (usrmerge): contents go through it
		}
		if exists {
			return fmt.Errorf("a directory where %s has a file", s.owner[e.Path])
		}
		if err := createEntry(s.root, dirfd, name, e, ""); err != nil {
			return err
		}
		return s.meta(dirfd, name, e)
	}
	if exists {
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("a file where the tree has a directory")
		}
		s.Warning("%s: %s replaces the file of %s", e.Path, p.Key, s.owner[e.Path])
		if err := unix.Unlinkat(dirfd, name, 0); err != nil {
			return err
		}
	}
	s.owner[e.Path] = p.Key
	value := ""
	if e.Type == 'f' {
		value = LinkValue(s.area, p, e)
	}
	if err := createEntry(s.root, dirfd, name, e, value); err != nil || e.Type == 'h' {
		return err
	}
	return s.meta(dirfd, name, e)
}

// createEntry makes e as name in dirfd of the tree at root: a regular
// file as a link entry holding value, a directory private (0700) until
// meta, a symlink, a hard link to e.Link of the tree, a device or FIFO.
// Everything but a hard link, which shares its target's, gets its
// metadata from meta afterwards. Skeletons and journals create entries
// this one way.
func createEntry(root, dirfd int, name string, e *archive.Entry, value string) error {
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
		tdir, tname, err := parentInRoot(root, e.Link, false)
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

// meta gives an entry its owner, then mode, then mtime.
func (s *Skeleton) meta(dirfd int, name string, e *archive.Entry) error {
	return entryMeta(dirfd, name, e)
}

// entryMeta gives an entry its owner, then mode, then mtime.
func entryMeta(dirfd int, name string, e *archive.Entry) error {
	if err := unix.Fchownat(dirfd, name, e.UID, e.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if e.Type != 'l' {
		fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), e.Mode)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	ts := []unix.Timespec{{Sec: e.Mtime}, {Sec: e.Mtime}}
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}
