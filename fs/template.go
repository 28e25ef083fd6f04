package fs

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync"

	"github.com/ezfs/ezfs/internal/atfile"
	"golang.org/x/sys/unix"
)

// Template is the read-only view of one template area. Mounts over the
// same area may share one (mountd does): what it caches about immutable
// template files stays right for every container.
type Template struct {
	root  int // a read-only clone of the area's mount, or the area itself
	links resolvedLinks
	dirs  dirCache
}

// resolvedLinks maps link values to their resolved targets: one entry
// per template file some mount has looked up, kept while the template is
// open. A plain map under a lock, not a sync.Map: that one took 123
// bytes a value against 56 (its trie's nodes, the key boxed), and the
// lookups mostly read, which a read lock serves.
type resolvedLinks struct {
	mu sync.RWMutex
	m  map[string]*linkTarget
}

func (r *resolvedLinks) load(value string) (*linkTarget, bool) {
	r.mu.RLock()
	lt, ok := r.m[value]
	r.mu.RUnlock()
	return lt, ok
}

// intern returns the resolved value equal to b, or "".
func (r *resolvedLinks) intern(b []byte) string {
	r.mu.RLock()
	lt := r.m[string(b)] // no copy of b for the lookup
	r.mu.RUnlock()
	if lt == nil {
		return ""
	}
	return lt.value
}

// maxResolvedLinks bounds the resolved values a template keeps (about
// 160 bytes each with their strings); past it an eighth of them,
// whichever the map yields first, go, and are resolved again when looked
// up. Nodes and remembered values keep their own pointers.
const maxResolvedLinks = 1 << 17

// store keeps lt, whose value is the key: the map shares its bytes.
func (r *resolvedLinks) store(lt *linkTarget) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]*linkTarget)
	}
	if len(r.m) >= maxResolvedLinks {
		drop := maxResolvedLinks / 8
		for v := range r.m {
			delete(r.m, v)
			if drop--; drop == 0 {
				break
			}
		}
	}
	r.m[lt.value] = lt
}

// OpenTemplate opens the template area at path (absolute). The caller
// closes it after the last mount using it has ended.
func OpenTemplate(path string, logger *slog.Logger) (*Template, error) {
	if logger == nil {
		logger = slog.Default()
	}
	fd, err := openTemplateReadOnly(path, logger)
	if err != nil {
		return nil, fmt.Errorf("open template area %s: %w", path, err)
	}
	return &Template{root: fd, dirs: dirCache{max: dirCacheMax, fds: map[string]int{}}}, nil
}

// Close releases the area's fds.
func (tp *Template) Close() {
	tp.dirs.reset()
	closeFD(tp.root)
}

// openTemplateReadOnly returns the root of a private, read-only clone of
// the template area's mount (open_tree + mount_setattr): no path of the
// daemon, nor of the kernel's passthrough, can then write a template file.
// Where that is not possible it opens the area itself and says so.
func openTemplateReadOnly(path string, logger *slog.Logger) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err == nil {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err == nil {
			return fd, nil
		}
		closeFD(fd)
	}
	logger.Warn("template area is not isolated read-only; opening it directly", "path", path, "err", err)
	return atfile.OpenDirPath(path)
}

// at runs f on the directory of a checked link value and the value's last
// element: one name against a directory fd, never a path walk per file.
func (tp *Template) at(value string, f func(dirfd int, name string) error) error {
	dir, name := path.Split(value)
	if dir == "" {
		return f(tp.root, name)
	}
	dir = dir[:len(dir)-1]
	inDir := func(dirfd int) error { return f(dirfd, name) }
	err := tp.dirs.with(tp.root, dir, inDir)
	if errors.Is(err, unix.ENOENT) && tp.dirs.drop(dir) {
		// The kept fd may be of a directory the area has replaced
		// since (a package removed by gc and installed again, a
		// template reinstalled): once more from the area's root.
		err = tp.dirs.with(tp.root, dir, inDir)
	}
	return err
}

// open opens the template file of a checked link value.
func (tp *Template) open(value string, flags int) (fd int, err error) {
	err = tp.at(value, func(dirfd int, name string) error {
		fd, err = openat(dirfd, name, flags, 0)
		return err
	})
	return fd, err
}

// dirCacheMax bounds the template directories a Template keeps open.
const dirCacheMax = 4096

// dirCache keeps O_PATH fds of template directories, opened beneath the
// root with no symlink and no ".." on the way. Users hold the read lock
// while they use an fd, so a reset never closes one under them.
type dirCache struct {
	mu  sync.RWMutex
	max int
	fds map[string]int
}

func (c *dirCache) with(root int, dir string, f func(dirfd int) error) error {
	c.mu.RLock()
	fd, ok := c.fds[dir]
	if ok {
		defer c.mu.RUnlock()
		return f(fd)
	}
	c.mu.RUnlock()

	fd, err := openBeneath(root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if old, ok := c.fds[dir]; ok {
		closeFD(fd) // a racing caller opened it first
		fd = old
	} else {
		if len(c.fds) >= c.max {
			c.resetLocked()
		}
		c.fds[dir] = fd
	}
	c.mu.Unlock()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if cur, ok := c.fds[dir]; ok && cur == fd {
		return f(fd)
	}
	return c.with(root, dir, f) // reset meanwhile; rare
}

// drop closes the fd kept for dir, if any, and says whether there was one.
func (c *dirCache) drop(dir string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	fd, ok := c.fds[dir]
	if ok {
		closeFD(fd)
		delete(c.fds, dir)
	}
	return ok
}

func (c *dirCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked()
}

func (c *dirCache) resetLocked() {
	for _, fd := range c.fds {
		closeFD(fd)
	}
	clear(c.fds)
}
