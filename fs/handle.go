package fs

import (
	"context"
	"syscall"

	"github.com/ezfs/ezfs/internal/atfile"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

const (
	fuseKeepCache  = fuse.FOPEN_KEEP_CACHE
	fsyncFdatasync = 1 // FUSE_FSYNC_FDATASYNC
)

// handle is an open file. With passthrough the kernel does the I/O on fd
// itself and only the fallback methods below see any.
type handle struct {
	t        *tree
	fd       int // data: the private file, or a link's template file
	meta     int // the private file, for metadata: fd, or a link entry's O_PATH fd
	writable bool
	owner    *fileNode // nil for link handles
}

var (
	_ fusefs.FilePassthroughFder = (*handle)(nil)
	_ fusefs.FileReader          = (*handle)(nil)
	_ fusefs.FileWriter          = (*handle)(nil)
	_ fusefs.FileFsyncer         = (*handle)(nil)
	_ fusefs.FileAllocater       = (*handle)(nil)
	_ fusefs.FileLseeker         = (*handle)(nil)
	_ fusefs.FileReleaser        = (*handle)(nil)
)

func newFileHandle(owner *fileNode, fd int, flags uint32) *handle {
	h := &handle{t: owner.t, fd: fd, meta: fd, writable: flags&unix.O_ACCMODE != unix.O_RDONLY, owner: owner}
	owner.mu.Lock()
	if owner.open == nil {
		owner.open = make(map[*handle]struct{})
	}
	owner.open[h] = struct{}{}
	owner.mu.Unlock()
	owner.markWritten(flags)
	return h
}

func (h *handle) PassthroughFd() (int, bool) { return h.fd, h.t.passthrough }

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return fuse.ReadResultFd(uintptr(h.fd), off, len(dest)), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := retryEINTR(func() (int, error) { return unix.Pwrite(h.fd, data, off) })
	return uint32(n), h.t.errno(err)
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if h.owner == nil {
		return 0 // a link: the template file is not ours to sync
	}
	if flags&fsyncFdatasync != 0 {
		return h.t.errno(retryEINTR0(func() error { return unix.Fdatasync(h.fd) }))
	}
	return h.t.errno(atfile.Fsync(h.fd))
}

// Allocate serves fallocate, hole punching and zeroing, and clears the
// set-ID bits as a local filesystem does for an unprivileged writer.
func (h *handle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if err := retryEINTR0(func() error { return unix.Fallocate(h.fd, mode, int64(off), int64(size)) }); err != nil {
		return h.t.errno(err)
	}
	caller, ok := fuse.FromContext(ctx)
	if !ok || h.owner == nil {
		return 0
	}
	changed, err := dropSetID(h.fd, caller)
	if err != nil {
		return h.t.errno(err)
	}
	if changed {
		// The kernel refreshes size and times after FALLOCATE, not the
		// mode its permission checks use. Attributes only: this takes
		// no lock the request holds.
		h.owner.NotifyContent(-1, 0)
	}
	return 0
}

func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	n, err := unix.Seek(h.fd, int64(off), int(whence))
	return uint64(n), h.t.errno(err)
}

func (h *handle) Release(ctx context.Context) syscall.Errno {
	if h.owner != nil {
		h.owner.mu.Lock()
		delete(h.owner.open, h)
		h.owner.mu.Unlock()
	}
	if h.meta >= 0 && h.meta != h.fd {
		closeFD(h.meta)
	}
	closeFD(h.fd)
	return 0
}
