package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// dirNode is a directory of the private tree. It holds an O_PATH fd of
// its own: every child is reached one name at a time against it, so no
// path is ever resolved from the backing root.
type dirNode struct {
	node
}

var (
	_ fusefs.NodeLookuper    = (*dirNode)(nil)
	_ fusefs.NodeMkdirer     = (*dirNode)(nil)
	_ fusefs.NodeMknoder     = (*dirNode)(nil)
	_ fusefs.NodeCreater     = (*dirNode)(nil)
	_ fusefs.NodeTmpfiler    = (*dirNode)(nil)
	_ fusefs.NodeSymlinker   = (*dirNode)(nil)
	_ fusefs.NodeLinker      = (*dirNode)(nil)
	_ fusefs.NodeUnlinker    = (*dirNode)(nil)
	_ fusefs.NodeRmdirer     = (*dirNode)(nil)
	_ fusefs.NodeRenamer     = (*dirNode)(nil)
	_ fusefs.NodeStatfser    = (*dirNode)(nil)
	_ fusefs.NodeFsyncer     = (*dirNode)(nil)
	_ fusefs.NodeOnForgetter = (*dirNode)(nil)
)

// nameMax is NAME_MAX: the kernel lets FUSE names up to 1024 bytes
// through, a local filesystem refuses anything over 255.
const nameMax = 255

func checkName(name string) syscall.Errno {
	if len(name) > nameMax {
		return syscall.ENAMETOOLONG
	}
	return 0
}

// dirfd returns the directory's fd (see dirFD).
func (d *dirNode) dirfd() (int, error) { return dirFD(d.EmbeddedInode(), d.self) }

func (d *dirNode) OnForget() { d.self.close() }

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, errno
	}
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, d.t.errno(err)
	}
	child, err := d.t.lookupChild(ctx, d.EmbeddedInode(), dirfd, name, out)
	return child, d.t.errno(err)
}

func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, errno
	}
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, d.t.errno(err)
	}
	if err := retryEINTR0(func() error { return unix.Mkdirat(dirfd, name, mode) }); err != nil {
		return nil, d.t.errno(err)
	}
	return d.finishCreate(ctx, name, 0, out, func() { unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR) })
}

func (d *dirNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, errno
	}
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, d.t.errno(err)
	}
	if err := retryEINTR0(func() error { return unix.Mknodat(dirfd, name, mode, int(dev)) }); err != nil {
		return nil, d.t.errno(err)
	}
	return d.finishCreate(ctx, name, mode, out, func() { unix.Unlinkat(dirfd, name, 0) })
}

func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, errno
	}
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, d.t.errno(err)
	}
	if err := retryEINTR0(func() error { return unix.Symlinkat(target, dirfd, name) }); err != nil {
		return nil, d.t.errno(err)
	}
	return d.finishCreate(ctx, name, 0, out, func() { unix.Unlinkat(dirfd, name, 0) })
}

// finishCreate gives a new object its caller as owner and returns its
// node; on failure undo removes the object again.
func (d *dirNode) finishCreate(ctx context.Context, name string, mode uint32, out *fuse.EntryOut, undo func()) (*fusefs.Inode, syscall.Errno) {
	dirfd, err := d.dirfd()
	if err != nil {
		undo()
		return nil, d.t.errno(err)
	}
	uid, gid, err := d.owner(ctx)
	if err == nil {
		err = chownAt(dirfd, name, 0, uid, gid)
	}
	if err == nil && mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		err = chmodAt(dirfd, name, 0, mode&07777) // the chown cleared them
	}
	var child *fusefs.Inode
	if err == nil {
		child, err = d.t.lookupChild(ctx, d.EmbeddedInode(), dirfd, name, out)
	}
	if err != nil {
		undo()
		return nil, d.t.errno(err)
	}
	return child, 0
}

// owner is who a new object in d belongs to: the caller, with the
// directory's group where the directory is set-group-ID (the backing
// filesystem has already given it that group).
func (d *dirNode) owner(ctx context.Context) (uid, gid int, err error) {
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return -1, -1, nil
	}
	uid, gid = int(caller.Uid), int(caller.Gid)
	dirfd, err := d.dirfd()
	if err != nil {
		return -1, -1, err
	}
	var st unix.Stat_t
	if err := statAt(dirfd, "", &st); err != nil {
		return -1, -1, err
	}
	if st.Mode&unix.S_ISGID != 0 {
		gid = -1
	}
	return uid, gid, nil
}

// openFlags keeps what the backing open should see of the kernel's flags.
const openFlagsMask = unix.O_ACCMODE | unix.O_APPEND | unix.O_DIRECT | unix.O_DSYNC | unix.O_SYNC |
	unix.O_NOATIME | unix.O_LARGEFILE | unix.O_TRUNC | unix.O_NONBLOCK

func (d *dirNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, nil, 0, errno
	}
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, nil, 0, d.t.errno(err)
	}
	fd, err := openat(dirfd, name, int(flags)&openFlagsMask|unix.O_CREAT|unix.O_EXCL, mode)
	if err != nil {
		return nil, nil, 0, d.t.errno(err)
	}
	child, h, errno := d.finishOpenCreate(ctx, fd, name, flags, mode, out)
	if errno != 0 {
		unix.Unlinkat(dirfd, name, 0)
	}
	return child, h, d.t.openFlags(), errno
}

// Tmpfile makes an O_TMPFILE file: a node with no name until linkat.
func (d *dirNode) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, nil, 0, d.t.errno(err)
	}
	fd, err := openat(dirfd, ".", int(flags)&openFlagsMask|unix.O_TMPFILE, mode)
	if err != nil {
		return nil, nil, 0, d.t.errno(err)
	}
	child, h, errno := d.finishOpenCreate(ctx, fd, "", flags, mode, out)
	return child, h, d.t.openFlags(), errno
}

func (d *dirNode) finishOpenCreate(ctx context.Context, fd int, name string, flags, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, syscall.Errno) {
	uid, gid, err := d.owner(ctx)
	if err == nil {
		err = retryEINTR0(func() error { return unix.Fchown(fd, uid, gid) })
	}
	if err == nil && mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		err = retryEINTR0(func() error { return unix.Fchmod(fd, mode&07777) })
	}
	var st unix.Stat_t
	if err == nil {
		err = statAt(fd, "", &st)
	}
	if err != nil {
		closeFD(fd)
		return nil, nil, d.t.errno(err)
	}
	fillAttr(&out.Attr, &st)
	fn := &fileNode{node: node{t: d.t, dev: st.Dev}}
	child := d.NewInode(ctx, fn, fusefs.StableAttr{Mode: unix.S_IFREG, Ino: st.Ino, Gen: genPlain})
	// The bridge may have picked an older node of the same identity.
	owner, _ := child.Operations().(*fileNode)
	return child, newFileHandle(owner, fd, flags), 0
}

func (d *dirNode) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, errno
	}
	tb, ok := target.(interface{ base() *node })
	if !ok {
		return nil, syscall.EXDEV
	}
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, d.t.errno(err)
	}
	err = tb.base().linkTo(dirfd, name)
	if err != nil {
		return nil, d.t.errno(err)
	}
	child, err := d.t.lookupChild(ctx, d.EmbeddedInode(), dirfd, name, out)
	return child, d.t.errno(err)
}

func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	dirfd, err := d.dirfd()
	if err != nil {
		return d.t.errno(err)
	}
	return d.t.errno(retryEINTR0(func() error { return unix.Unlinkat(dirfd, name, 0) }))
}

func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	dirfd, err := d.dirfd()
	if err != nil {
		return d.t.errno(err)
	}
	return d.t.errno(retryEINTR0(func() error { return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR) }))
}

func (d *dirNode) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if errno := checkName(newName); errno != 0 {
		return errno
	}
	np, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EXDEV
	}
	olddir, err := d.dirfd()
	if err != nil {
		return d.t.errno(err)
	}
	newdir, err := np.dirfd()
	if err != nil {
		return d.t.errno(err)
	}
	return d.t.errno(retryEINTR0(func() error {
		return unix.Renameat2(olddir, name, newdir, newName, uint(flags))
	}))
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	dirfd, err := d.dirfd()
	if err != nil {
		return d.t.errno(err)
	}
	var s unix.Statfs_t
	if err := retryEINTR0(func() error { return unix.Fstatfs(dirfd, &s) }); err != nil {
		return d.t.errno(err)
	}
	out.Blocks, out.Bfree, out.Bavail = s.Blocks, s.Bfree, s.Bavail
	out.Files, out.Ffree = s.Files, s.Ffree
	out.Bsize, out.Frsize = uint32(s.Bsize), uint32(s.Frsize)
	out.NameLen = uint32(s.Namelen)
	return 0
}

func (d *dirNode) Fsync(ctx context.Context, f fusefs.FileHandle, flags uint32) syscall.Errno {
	dirfd, err := d.dirfd()
	if err != nil {
		return d.t.errno(err)
	}
	fd, err := openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return d.t.errno(err)
	}
	defer closeFD(fd)
	return d.t.errno(retryEINTR0(func() error { return unix.Fsync(fd) }))
}
