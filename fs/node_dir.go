package fs

import (
	"context"
	"syscall"

	"github.com/ezfs/ezfs/internal/atfile"
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
	if err := atfile.Mkdirat(dirfd, name, createMode(dirfd, mode)); err != nil {
		return nil, d.t.errno(err)
	}
	return d.finishCreate(ctx, name, out, func() { atfile.Unlinkat(dirfd, name, unix.AT_REMOVEDIR) })
}

func (d *dirNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, errno
	}
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, d.t.errno(err)
	}
	if err := atfile.Mknodat(dirfd, name, createMode(dirfd, mode), int(dev)); err != nil {
		return nil, d.t.errno(err)
	}
	return d.finishCreate(ctx, name, out, func() { atfile.Unlinkat(dirfd, name, 0) })
}

func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, errno
	}
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, d.t.errno(err)
	}
	if err := atfile.Symlinkat(target, dirfd, name); err != nil {
		return nil, d.t.errno(err)
	}
	return d.finishCreate(ctx, name, out, func() { atfile.Unlinkat(dirfd, name, 0) })
}

// finishCreate gives a new object its caller as owner and returns its
// node; on failure undo removes the object again. The chown clears
// set-ID bits, which are then given back: the mode is the one the
// backing filesystem made (from the caller's mode, the umask or a
// default ACL, and a set-group-ID directory).
func (d *dirNode) finishCreate(ctx context.Context, name string, out *fuse.EntryOut, undo func()) (*fusefs.Inode, syscall.Errno) {
	dirfd, err := d.dirfd()
	if err != nil {
		undo()
		return nil, d.t.errno(err)
	}
	var made unix.Stat_t
	uid, gid, err := d.owner(ctx)
	if err == nil {
		err = statAt(dirfd, name, &made)
	}
	if err == nil {
		err = chownAt(dirfd, name, 0, uid, gid)
	}
	if err == nil && made.Mode&unix.S_IFMT != unix.S_IFLNK && made.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		err = chmodAt(dirfd, name, 0, made.Mode&07777) // the chown may have cleared them
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
	fd, err := openat(dirfd, name, int(flags)&openFlagsMask|unix.O_CREAT|unix.O_EXCL, createMode(dirfd, mode))
	if err != nil {
		return nil, nil, 0, d.t.errno(err)
	}
	child, h, errno := d.finishOpenCreate(ctx, fd, name, flags, out)
	if errno != 0 {
		atfile.Unlinkat(dirfd, name, 0)
	}
	return child, h, d.t.openFlags(), errno
}

// Tmpfile makes an O_TMPFILE file: a node with no name until linkat.
func (d *dirNode) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, nil, 0, d.t.errno(err)
	}
	fd, err := openat(dirfd, ".", int(flags)&openFlagsMask|unix.O_TMPFILE, createMode(dirfd, mode))
	if err != nil {
		return nil, nil, 0, d.t.errno(err)
	}
	child, h, errno := d.finishOpenCreate(ctx, fd, "", flags, out)
	return child, h, d.t.openFlags(), errno
}

// finishOpenCreate is finishCreate for a file made open.
func (d *dirNode) finishOpenCreate(ctx context.Context, fd int, name string, flags uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, syscall.Errno) {
	var made unix.Stat_t
	uid, gid, err := d.owner(ctx)
	if err == nil {
		err = statAt(fd, "", &made)
	}
	if err == nil {
		err = retryEINTR0(func() error { return unix.Fchown(fd, uid, gid) })
	}
	if err == nil && made.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		err = retryEINTR0(func() error { return unix.Fchmod(fd, made.Mode&07777) })
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
	h := newFileHandle(owner, fd, flags)
	if owner.attrsVolatile() {
		out.SetAttrTimeout(volatileTimeout)
	}
	return child, h, 0
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
	return d.t.errno(atfile.Unlinkat(dirfd, name, 0))
}

func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	dirfd, err := d.dirfd()
	if err != nil {
		return d.t.errno(err)
	}
	return d.t.errno(atfile.Unlinkat(dirfd, name, unix.AT_REMOVEDIR))
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
	return d.t.errno(atfile.Renameat(olddir, name, newdir, newName, uint(flags)))
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
	return d.t.errno(atfile.Fsync(fd))
}
