package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Every node answers statfs: the kernel sends STATFS for the inode that
// fstatfs(2) was called on, and a node without the method answers with
// all zeros (f_bsize 0), which programs that size buffers from it take
// for an error.
var _ fusefs.NodeStatfser = (*node)(nil)

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fd, _, err := n.loc()
	if err != nil {
		// Unlinked: the filesystem is the root's.
		root, ok := n.Root().Operations().(*dirNode)
		if !ok {
			return n.t.errno(err)
		}
		if fd, err = root.dirfd(); err != nil {
			return n.t.errno(err)
		}
	}
	var s unix.Statfs_t
	if err := retryEINTR0(func() error { return unix.Fstatfs(fd, &s) }); err != nil {
		return n.t.errno(err)
	}
	out.Blocks, out.Bfree, out.Bavail = s.Blocks, s.Bfree, s.Bavail
	out.Files, out.Ffree = s.Files, s.Ffree
	out.Bsize, out.Frsize = uint32(s.Bsize), uint32(s.Frsize)
	out.NameLen = uint32(s.Namelen)
	return 0
}
