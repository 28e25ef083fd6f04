package fs

import (
	"context"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/ezfs/ezfs/internal/linkattr"
	fusefs "github.com/hanwen/go-fuse/v2/fs" // our own package is also called fs
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is what every kind of node shares: attributes and extended
// attributes of its private file, reached through its parent's directory
// fd and its name (directories through their own fd).
type node struct {
	fusefs.Inode
	t    *tree
	self *fdBox // directories only: their own O_PATH fd
	dev  uint64 // files and links: the private file's device (its inode is StableAttr().Ino)
}

var (
	_ fusefs.NodeGetattrer = (*node)(nil)
	_ fusefs.NodeSetattrer = (*node)(nil)
)

// fdBox holds a directory's fd so that it can be closed exactly once,
// by OnForget or, for a node go-fuse dropped in favour of a racing twin,
// by a cleanup when the node is collected; dirFD opens it again for a
// node revived after OnForget.
type fdBox struct{ fd atomic.Int64 }

func newFDBox(fd int) *fdBox {
	b := &fdBox{}
	b.fd.Store(int64(fd))
	return b
}

func (b *fdBox) get() int { return int(b.fd.Load()) }

func (b *fdBox) close() { closeFD(int(b.fd.Swap(-1))) }

// dirFD returns the fd of the directory node in, kept in box. go-fuse
// calls OnForget, which closes it, when the kernel forgets the node; a
// LOOKUP racing with that FORGET can still hand the same node back to the
// kernel (go-fuse leaves preventing that to the file system). Such a
// node opens its directory again through its parent, and only if it is
// still the same inode: otherwise ESTALE, and the kernel looks the name
// up afresh.
func dirFD(in *fusefs.Inode, box *fdBox) (int, error) {
	if fd := box.get(); fd >= 0 {
		return fd, nil
	}
	name, parent := in.Parent()
	if parent == nil {
		return -1, syscall.ESTALE
	}
	pd, ok := parent.Operations().(*dirNode)
	if !ok {
		return -1, syscall.ESTALE
	}
	pfd, err := dirFD(parent, pd.self)
	if err != nil {
		return -1, err
	}
	fd, err := openat(pfd, name, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, syscall.ESTALE
	}
	var st unix.Stat_t
	if statAt(fd, "", &st) != nil || st.Ino != in.StableAttr().Ino {
		closeFD(fd)
		return -1, syscall.ESTALE
	}
	if !box.fd.CompareAndSwap(-1, int64(fd)) {
		closeFD(fd) // another request opened it first
		return dirFD(in, box)
	}
	return fd, nil
}

// loc returns where the node's private file is: (dirfd, name), or
// (own fd, "") for a directory. A file that has been unlinked has no
// location; only its open handles still reach it.
func (n *node) loc() (int, string, error) {
	if n.self != nil {
		fd, err := dirFD(&n.Inode, n.self)
		return fd, "", err
	}
	name, parent := n.Parent()
	if parent == nil {
		return -1, "", syscall.ENOENT
	}
	fd, err := dirFD(parent, parent.Operations().(*dirNode).self)
	return fd, name, err
}

// target is loc, preferring an open handle: it still reaches a file that
// was unlinked or renamed meanwhile.
func (n *node) target(f fusefs.FileHandle) (int, string, error) {
	if h, ok := f.(*handle); ok && h != nil && h.meta >= 0 {
		return h.meta, "", nil
	}
	return n.loc()
}

func (n *node) stat(f fusefs.FileHandle, st *unix.Stat_t) error {
	dirfd, name, err := n.target(f)
	if err != nil {
		return err
	}
	return statAt(dirfd, name, st)
}

func (n *node) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var st unix.Stat_t
	if err := n.stat(f, &st); err != nil {
		return n.t.errno(err)
	}
	fillAttr(&out.Attr, &st)
	if n.attrsVolatile() {
		out.SetTimeout(volatileTimeout)
	}
	return 0
}

func (n *node) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if err := n.setattr(f, in); err != nil {
		return n.t.errno(err)
	}
	return n.Getattr(ctx, f, out)
}

// setattr applies owner before mode: the kernel asks for the mode it
// wants after a chown (with set-id bits already cleared where POSIX says
// so), while the backing chown would clear them on its own.
func (n *node) setattr(f fusefs.FileHandle, in *fuse.SetAttrIn) error {
	dirfd, name, err := n.target(f)
	if err != nil {
		return err
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	// chown(path, -1, -1) comes with nothing to set, and still moves the
	// ctime on a local filesystem; so does the backing chown.
	if uok || gok || in.Valid&setattrChanges == 0 {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		if err := chownAt(dirfd, name, n.StableAttr().Ino, u, g); err != nil {
			return err
		}
		// The kernel sends the same before a write by a caller without
		// CAP_FSETID (killpriv.go). The backing chown, as root, cleared
		// the set-user-ID bit and a group-executable file's
		// set-group-ID bit; the caller's chown or write also clears the
		// set-group-ID bit where it is not in the file's group.
		if in.Valid&setattrChanges == 0 {
			if err := dropSetIDAt(dirfd, name, n.StableAttr().Ino, &in.Caller); err != nil {
				return err
			}
		}
	}
	if mode, ok := in.GetMode(); ok {
		if err := chmodAt(dirfd, name, n.StableAttr().Ino, mode&07777); err != nil {
			return err
		}
	}
	if size, ok := in.GetSize(); ok {
		h, _ := f.(*handle)
		if err := n.truncateAt(dirfd, name, h, int64(size)); err != nil {
			return err
		}
		// A truncate by a caller without CAP_FSETID (the kernel leaves
		// this to us, see killpriv.go); the daemon's own truncate, as
		// root, clears nothing.
		if in.Valid&fuse.FATTR_KILL_SUIDGID != 0 {
			if err := dropSetIDAt(dirfd, name, n.StableAttr().Ino, &in.Caller); err != nil {
				return err
			}
		}
	}
	if in.Valid&(fuse.FATTR_ATIME|fuse.FATTR_MTIME|fuse.FATTR_ATIME_NOW|fuse.FATTR_MTIME_NOW) != 0 {
		ts := [2]unix.Timespec{
			setTime(in.Valid, fuse.FATTR_ATIME, fuse.FATTR_ATIME_NOW, in.Atime, in.Atimensec),
			setTime(in.Valid, fuse.FATTR_MTIME, fuse.FATTR_MTIME_NOW, in.Mtime, in.Mtimensec),
		}
		if err := utimesAt(dirfd, name, ts); err != nil {
			return err
		}
	}
	return nil
}

// setattrChanges are the SETATTR bits that change an attribute.
const setattrChanges = fuse.FATTR_UID | fuse.FATTR_GID | fuse.FATTR_MODE | fuse.FATTR_SIZE |
	fuse.FATTR_ATIME | fuse.FATTR_MTIME | fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME_NOW

func setTime(valid, set, now uint32, sec uint64, nsec uint32) unix.Timespec {
	switch {
	case valid&now != 0:
		return unix.Timespec{Nsec: unix.UTIME_NOW}
	case valid&set != 0:
		return unix.Timespec{Sec: int64(sec), Nsec: int64(nsec)}
	}
	return unix.Timespec{Nsec: unix.UTIME_OMIT}
}

func fillAttr(out *fuse.Attr, st *unix.Stat_t) {
	out.Ino = st.Ino
	out.Size = uint64(st.Size)
	out.Blocks = uint64(st.Blocks)
	out.Atime, out.Atimensec = uint64(st.Atim.Sec), uint32(st.Atim.Nsec)
	out.Mtime, out.Mtimensec = uint64(st.Mtim.Sec), uint32(st.Mtim.Nsec)
	out.Ctime, out.Ctimensec = uint64(st.Ctim.Sec), uint32(st.Ctim.Nsec)
	out.Mode = st.Mode
	out.Nlink = uint32(st.Nlink)
	out.Uid, out.Gid = st.Uid, st.Gid
	out.Rdev = uint32(st.Rdev)
	out.Blksize = uint32(st.Blksize)
}

// identify reads what kind of node (dirfd, name) is: its identity and,
// for a link entry, its resolved target.
func (t *tree) identify(dirfd int, name string, st *unix.Stat_t) (fusefs.StableAttr, *linkTarget, error) {
	mode := st.Mode & unix.S_IFMT
	id := fusefs.StableAttr{Mode: mode, Ino: st.Ino, Gen: genPlain}
	if mode != unix.S_IFREG {
		return id, nil, nil
	}
	era := t.era.Load()
	if lt, ok := known.lookup(era, st); ok {
		id.Gen = linkGen(lt.value)
		return id, lt, nil
	}
	value, ok, err := linkattr.GetAtInterned(dirfd, name, t.tmpl.links.intern)
	if err != nil && !ok {
		return id, nil, err
	}
	if !ok {
		return id, nil, nil
	}
	id.Gen = linkGen(value)
	lt := t.resolveLink(value, err)
	if err == nil && lt.err == nil {
		known.remember(era, st, lt)
		if t.era.Load() != era {
			known.forget(era, st.Ino) // an Invalidate dropped that era meanwhile
		}
	}
	return id, lt, nil
}

// makeChild returns the node for (dirfd, name) with identity id. A child
// the bridge already knows under that name and identity is reused (a
// link with its target as just resolved), which saves opening a
// directory fd that would only be thrown away.
func (t *tree) makeChild(ctx context.Context, parent *fusefs.Inode, dirfd int, name string, st *unix.Stat_t, id fusefs.StableAttr, link *linkTarget) (*fusefs.Inode, error) {
	if old := parent.GetChild(name); old != nil && old.StableAttr() == id {
		// Same value, resolved again: a target missing then may be there
		// now (its package was installed).
		if ln, ok := old.Operations().(*linkNode); ok && link != nil {
			ln.link.Store(link)
			ln.touched.Store(0) // the entry may have changed (touchAtime)
		}
		return old, nil
	}
	var ops fusefs.InodeEmbedder
	switch {
	case id.Mode == unix.S_IFDIR:
		fd, err := openat(dirfd, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return nil, err
		}
		var fst unix.Stat_t
		if err := statAt(fd, "", &fst); err != nil || fst.Ino != st.Ino {
			closeFD(fd)
			return nil, syscall.ESTALE // replaced between stat and open
		}
		d := &dirNode{node: node{t: t, self: newFDBox(fd)}}
		runtime.AddCleanup(d, (*fdBox).close, d.self)
		ops = d
	case link != nil:
		ln := &linkNode{node: node{t: t, dev: st.Dev}}
		ln.link.Store(link)
		ops = ln
	case id.Mode == unix.S_IFREG:
		ops = &fileNode{node: node{t: t, dev: st.Dev}}
	default:
		ops = &specialNode{node: node{t: t}}
	}
	return parent.NewInode(ctx, ops, id), nil
}

// childEntry finishes a lookup: the node and the attributes the kernel
// caches for it.
func (t *tree) childEntry(ctx context.Context, parent *fusefs.Inode, dirfd int, name string, st *unix.Stat_t, id fusefs.StableAttr, link *linkTarget, out *fuse.EntryOut) (*fusefs.Inode, error) {
	child, err := t.makeChild(ctx, parent, dirfd, name, st, id, link)
	if err != nil {
		return nil, err
	}
	fillAttr(&out.Attr, st)
	switch n := child.Operations().(type) {
	case *linkNode:
		n.fixAttr(&out.Attr)
	case *fileNode:
		if n.attrsVolatile() {
			out.SetAttrTimeout(volatileTimeout)
		}
	}
	return child, nil
}

// lookupChild stats name in the directory and makes its node.
func (t *tree) lookupChild(ctx context.Context, parent *fusefs.Inode, dirfd int, name string, out *fuse.EntryOut) (*fusefs.Inode, error) {
	if e := t.pre.take(parent.StableAttr().Ino, name); e != nil {
		return t.childEntry(ctx, parent, dirfd, name, &e.st, e.id, e.link, out)
	}
	var st unix.Stat_t
	if err := statAt(dirfd, name, &st); err != nil {
		return nil, err
	}
	id, link, err := t.identify(dirfd, name, &st)
	if err != nil {
		return nil, err
	}
	return t.childEntry(ctx, parent, dirfd, name, &st, id, link, out)
}
