package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/ezfs/ezfs/internal/atfile"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// fileNode is a regular file of the private tree: the container's own
// file, or a link entry after its copy-up.
type fileNode struct {
	node

	mu   sync.Mutex
	open map[*handle]struct{} // reach the file after it is unlinked (O_TMPFILE, fstat)

	written atomic.Bool // opened read-write with passthrough (volatile.go)
}

// specialNode is a symlink, FIFO, socket or device node. The kernel opens
// FIFOs and devices itself; we only keep their metadata.
type specialNode struct {
	node
}

var (
	_ fusefs.NodeOpener     = (*fileNode)(nil)
	_ fusefs.NodeReadlinker = (*specialNode)(nil)
)

func (n *node) base() *node { return n }

func (t *tree) openFlags() uint32 {
	if t.passthrough {
		return 0
	}
	// Only the mount changes private files and template files never
	// change, so pages cached by an earlier open are still right.
	return fuseKeepCache
}

func (f *fileNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	oflags := int(flags) & openFlagsMask
	dirfd, name, err := f.loc()
	var fd int
	if err == nil {
		fd, err = f.openPrivate(dirfd, name, oflags)
	} else if h := f.anyHandle(); h != nil {
		// Unlinked but open: the handle's file itself, reopened.
		fd, err = reopenFD(h.fd, oflags)
	}
	if err == nil && flags&unix.O_TRUNC != 0 {
		err = f.truncatedAtOpen(ctx, fd)
		if err != nil {
			closeFD(fd)
		}
	}
	if err != nil {
		return nil, 0, f.t.errno(err)
	}
	return newFileHandle(f, fd, flags), f.t.openFlags(), 0
}

func (f *fileNode) anyHandle() *handle {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.open {
		return h
	}
	return nil
}

func (s *specialNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	dirfd, name, err := s.loc()
	if err != nil {
		return nil, s.t.errno(err)
	}
	buf := make([]byte, 256)
	for {
		n, err := atfile.Readlinkat(dirfd, name, buf)
		if err != nil {
			return nil, s.t.errno(err)
		}
		if n < len(buf) {
			return buf[:n], 0
		}
		buf = make([]byte, 2*len(buf))
	}
}

// linkTo gives the node's file one more name; a file with no name left
// (O_TMPFILE) is linked through an open handle.
func (n *node) linkTo(dirfd int, name string) error {
	odir, oname, err := n.loc()
	if err == nil {
		return atfile.Linkat(odir, oname, dirfd, name)
	}
	if fn, ok := n.Operations().(*fileNode); ok {
		if h := fn.anyHandle(); h != nil {
			return atfile.LinkFD(h.fd, dirfd, name)
		}
	}
	return err
}
