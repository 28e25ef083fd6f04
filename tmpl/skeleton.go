package tmpl

import (
	"fmt"
	"path"

	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/internal/tree"
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
func (s *Skeleton) parent(p string) (int, string, error) { return tree.ParentInRoot(s.root, p, true) }

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
		if err := tree.Create(s.root, dirfd, name, e, ""); err != nil {
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
	if err := tree.Create(s.root, dirfd, name, e, value); err != nil || e.Type == 'h' {
		return err
	}
	return s.meta(dirfd, name, e)
}

// meta gives an entry its owner, then mode, then mtime.
func (s *Skeleton) meta(dirfd int, name string, e *archive.Entry) error {
	return tree.Meta(dirfd, name, e)
}
