package fs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// linkNode is a link entry: it reads as its template file, and its own
// metadata is the entry's. Once copied up it is stale for good; the copy
// is another node (see doc.go, Identity).
type linkNode struct {
	node
	link  atomic.Pointer[linkTarget]
	mu    sync.Mutex // serialises copy-ups of this entry (hard links share the node)
	stale atomic.Bool

	touched atomic.Int64 // when touchAtime last read the entry, Unix ns
}

var (
	_ fusefs.NodeOpener    = (*linkNode)(nil)
	_ fusefs.NodeGetattrer = (*linkNode)(nil)
	_ fusefs.NodeSetattrer = (*linkNode)(nil)
)

// linkTarget is what a link value resolved to when it was looked up.
// Template files never change, so their size is read once.
type linkTarget struct {
	value  string
	size   int64
	blocks int64
	err    error // malformed, escaping, dangling: EIO on access
}

func (t *tree) resolveLink(value string, readErr error) *linkTarget {
	tp := t.tmpl
	if readErr == nil {
		if lt, ok := tp.links.load(value); ok {
			return lt
		}
	}
	lt := &linkTarget{value: value, err: readErr}
	if lt.err == nil {
		lt.err = CheckLinkValue(value)
	}
	if lt.err != nil {
		return lt
	}
	var st unix.Stat_t
	err := tp.at(value, func(dirfd int, name string) error { return statAt(dirfd, name, &st) })
	switch {
	case err != nil:
		lt.err = fmt.Errorf("%w: %q in the template area: %v", ErrBadLink, value, err)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		lt.err = fmt.Errorf("%w: %q is not a regular file", ErrBadLink, value)
	default:
		lt.size, lt.blocks = st.Size, st.Blocks
		// Template files never change: a resolved target stays right
		// for good. Failures are not kept; the package may be installed
		// later.
		tp.links.store(lt)
	}
	return lt
}

func (l *linkNode) fixAttr(out *fuse.Attr) {
	if lt := l.link.Load(); lt.err == nil && !l.stale.Load() {
		out.Size, out.Blocks = uint64(lt.size), uint64(lt.blocks)
	}
}

func (l *linkNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	errno := l.node.Getattr(ctx, f, out)
	if h, ok := f.(*handle); errno == syscall.ENOENT && ok && h != nil {
		// Unlinked while open: the template file's attributes, no link.
		var st unix.Stat_t
		if err := statAt(h.fd, "", &st); err != nil {
			return l.t.errno(err)
		}
		fillAttr(&out.Attr, &st)
		out.Attr.Ino, out.Attr.Nlink = l.StableAttr().Ino, 0
		return 0
	}
	if errno != 0 {
		return errno
	}
	l.fixAttr(&out.Attr)
	return 0
}

// Setattr changes the entry itself, except for size: truncating copies up.
func (l *linkNode) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		if err := l.copyUp(int64(size)); err != nil {
			return l.t.errno(err)
		}
		return syscall.ESTALE // the kernel retries on the copy's node
	}
	if err := l.setattr(f, in); err != nil {
		return l.t.errno(err)
	}
	l.touched.Store(0) // a changed entry: relatime looks again
	return l.Getattr(ctx, f, out)
}

func (l *linkNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if l.stale.Load() {
		return nil, 0, syscall.ESTALE
	}
	lt := l.link.Load()
	if lt.err != nil {
		return nil, 0, l.badLink(lt)
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		trunc := int64(-1)
		if flags&unix.O_TRUNC != 0 {
			trunc = 0
		}
		if err := l.copyUp(trunc); err != nil {
			return nil, 0, l.t.errno(err)
		}
		return nil, 0, syscall.ESTALE
	}
	fd, err := l.t.tmpl.open(lt.value, unix.O_RDONLY)
	if err != nil {
		return nil, 0, l.badLink(&linkTarget{value: lt.value, err: err})
	}
	if dirfd, name, err := l.loc(); err == nil {
		l.touchAtime(dirfd, name)
	}
	// The entry's metadata is reached by name: an open costs no
	// second descriptor (every file a container reads is opened).
	return &handle{t: l.t, fd: fd, meta: -1}, l.t.openFlags(), 0
}

// badLink logs a link that cannot be followed, with the entry's path, and
// refuses it: a malformed value is never followed.
func (l *linkNode) badLink(lt *linkTarget) syscall.Errno {
	l.t.stats.BadLinks.Add(1)
	l.t.log.Error("bad link entry", "path", l.Path(nil), "value", lt.value, "err", lt.err)
	return syscall.EIO
}

// copyUp turns the entry into a copy of its template file, once however
// many opens race for it, and leaves this node stale.
func (l *linkNode) copyUp(trunc int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stale.Load() {
		return nil
	}
	lt := l.link.Load()
	if lt.err != nil {
		return l.badLink(lt)
	}
	dirfd, name, err := l.loc()
	if err != nil {
		return err
	}
	// The entry this node stands for, not whatever was renamed over its
	// name meanwhile (reopen.go).
	dst, err := l.openPrivate(dirfd, name, unix.O_WRONLY)
	if err != nil {
		return fmt.Errorf("copy-up: open entry: %w", err) // ESTALE: the kernel looks the name up again
	}
	defer closeFD(dst)
	n, err := l.t.copyUp(dst, lt.value, trunc)
	if err != nil {
		l.t.log.Error("copy-up failed", "path", l.Path(nil), "err", err)
		return err
	}
	l.stale.Store(true)
	l.t.stats.CopyUps.Add(1)
	l.t.stats.CopyUpBytes.Add(n)
	// Other names of this entry (hard links) keep this node in the
	// kernel's dentry cache; drop its cached attributes, which still
	// show the template's size. Async: a notification sent while
	// serving a request may wait for that request.
	go l.NotifyContent(-1, 0)
	return nil
}
