package fs

import (
	"context"
	"syscall"
	"unsafe"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// dirHandle is a directory listing. The whole directory is read at open
// (or taken from readahead, which read it moments before): the kernel
// caches listings (FOPEN_CACHE_DIR), so each is read about once. Opening
// one starts readahead of its subdirectories.
type dirHandle struct {
	d       *dirNode
	fd      int // the directory, open for reading
	entries []fuse.DirEntry
	pos     int
}

var (
	_ fusefs.NodeOpendirHandler = (*dirNode)(nil)
	_ fusefs.FileReaddirenter   = (*dirHandle)(nil)
	_ fusefs.FileSeekdirer      = (*dirHandle)(nil)
	_ fusefs.FileLookuper       = (*dirHandle)(nil)
	_ fusefs.FileReleasedirer   = (*dirHandle)(nil)
	_ fusefs.FileFsyncdirer     = (*dirHandle)(nil)
)

func (d *dirNode) OpendirHandle(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	dirfd, err := d.dirfd()
	if err != nil {
		return nil, 0, d.t.errno(err)
	}
	fd, err := openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, 0, d.t.errno(err)
	}
	h := &dirHandle{d: d, fd: fd}
	if h.entries = d.t.pre.takeListing(d.StableAttr().Ino); h.entries != nil {
		d.t.readaheadSubdirs(fd, h.entries)
		return h, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := retryEINTR(func() (int, error) { return unix.Getdents(fd, buf) })
		if err != nil {
			closeFD(fd)
			return nil, 0, d.t.errno(err)
		}
		if n == 0 {
			break
		}
		h.entries = parseDirents(buf[:n], h.entries)
	}
	d.t.readaheadSubdirs(fd, h.entries)
	return h, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if h.pos >= len(h.entries) {
		return nil, 0
	}
	e := &h.entries[h.pos]
	h.pos++
	e.Off = uint64(h.pos)
	return e, 0
}

func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off > uint64(len(h.entries)) {
		return syscall.EINVAL
	}
	h.pos = int(off)
	return 0
}

// Lookup answers READDIRPLUS for the name Readdirent just produced.
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if errno := checkName(name); errno != 0 {
		return nil, errno
	}
	dirfd, err := h.d.dirfd()
	if err != nil {
		return nil, h.d.t.errno(err)
	}
	child, err := h.d.t.lookupChild(ctx, h.d.EmbeddedInode(), dirfd, name, out)
	return child, h.d.t.errno(err)
}

func (h *dirHandle) Releasedir(ctx context.Context, releaseFlags uint32) {
	closeFD(h.fd)
}

func (h *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return h.d.t.errno(retryEINTR0(func() error { return unix.Fsync(h.fd) }))
}

// parseDirents decodes linux_dirent64 records.
func parseDirents(buf []byte, out []fuse.DirEntry) []fuse.DirEntry {
	for len(buf) >= 19 {
		reclen := int(*(*uint16)(unsafe.Pointer(&buf[16])))
		if reclen < 19 || reclen > len(buf) {
			break
		}
		rec := buf[:reclen]
		buf = buf[reclen:]
		name := rec[19:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		out = append(out, fuse.DirEntry{
			Ino:  *(*uint64)(unsafe.Pointer(&rec[0])),
			Mode: uint32(rec[18]) << 12, // DT_* is S_IFMT >> 12
			Name: string(name),
		})
	}
	return out
}
