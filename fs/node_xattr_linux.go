package fs

import (
	"bytes"
	"context"
	"syscall"

	"github.com/ezfs/ezfs/internal/linkattr"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

var (
	_ fusefs.NodeGetxattrer    = (*node)(nil)
	_ fusefs.NodeSetxattrer    = (*node)(nil)
	_ fusefs.NodeRemovexattrer = (*node)(nil)
	_ fusefs.NodeListxattrer   = (*node)(nil)
)

func isPrivateAttr(attr string) bool { return linkattr.IsOurs(attr) }

// xattrPath names the node for the xattr calls, which have no *at form.
// follow is true when the path ends in the magic link of the node's own
// fd, which must be followed to reach the node; a name in a directory
// must not be followed.
func (n *node) xattrPath() (path string, follow bool, err error) {
	dirfd, name, err := n.loc()
	if err != nil {
		return "", false, err
	}
	return procPath(dirfd, name), name == "", nil
}

func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if isPrivateAttr(attr) {
		return 0, syscall.ENODATA
	}
	path, follow, err := n.xattrPath()
	if err != nil {
		return 0, n.t.errno(err)
	}
	sz, err := retryEINTR(func() (int, error) {
		if follow {
			return unix.Getxattr(path, attr, dest)
		}
		return unix.Lgetxattr(path, attr, dest)
	})
	return uint32(sz), n.t.errno(err)
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if isPrivateAttr(attr) {
		return syscall.EPERM
	}
	path, follow, err := n.xattrPath()
	if err != nil {
		return n.t.errno(err)
	}
	return n.t.errno(retryEINTR0(func() error {
		if follow {
			return unix.Setxattr(path, attr, data, int(flags))
		}
		return unix.Lsetxattr(path, attr, data, int(flags))
	}))
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if isPrivateAttr(attr) {
		return syscall.EPERM
	}
	path, follow, err := n.xattrPath()
	if err != nil {
		return n.t.errno(err)
	}
	return n.t.errno(retryEINTR0(func() error {
		if follow {
			return unix.Removexattr(path, attr)
		}
		return unix.Lremovexattr(path, attr)
	}))
}

// Listxattr hides our own attributes, so its size answer has to come from
// the filtered list, not from the backing file.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	path, follow, err := n.xattrPath()
	if err != nil {
		return 0, n.t.errno(err)
	}
	list := func(buf []byte) (int, error) {
		return retryEINTR(func() (int, error) {
			if follow {
				return unix.Listxattr(path, buf)
			}
			return unix.Llistxattr(path, buf)
		})
	}
	var buf []byte
	for {
		sz, err := list(nil)
		if err != nil {
			return 0, n.t.errno(err)
		}
		buf = make([]byte, sz)
		sz, err = list(buf)
		if err == unix.ERANGE {
			continue // grew meanwhile
		}
		if err != nil {
			return 0, n.t.errno(err)
		}
		buf = buf[:sz]
		break
	}
	var out []byte
	for _, a := range bytes.Split(buf, []byte{0}) {
		if len(a) > 0 && !isPrivateAttr(string(a)) {
			out = append(append(out, a...), 0)
		}
	}
	if len(dest) == 0 {
		return uint32(len(out)), 0
	}
	if len(dest) < len(out) {
		return 0, syscall.ERANGE
	}
	return uint32(copy(dest, out)), 0
}
