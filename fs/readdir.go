package fs

import (
	"context"
	"syscall"
	"unsafe"

	"github.com/ezfs/ezfs/internal/atfile"
	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// dirHandle is a directory listing. The whole directory is read at open
// (or taken from readahead, which read it moments before): the kernel
// caches listings (FOPEN_CACHE_DIR), so each is read about once. Opening
// one starts readahead of its subdirectories.
//
// An entry's offset is the backing filesystem's (getdents' d_off: where
// the entry after it is), not its index: a listing that goes on in
// another handle, read later (raw.go keeps only so many), then resumes
// at the same place in the directory, although entries before it were
// removed or added meanwhile.
type dirHandle struct {
	d       *dirNode
	fd      int // the directory, open for reading
	entries []fuse.DirEntry
	from    uint64 // the offset entries were read from
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
	if h.entries, err = readDirents(fd, 0); err != nil {
		closeFD(fd)
		return nil, 0, d.t.errno(err)
	}
	d.t.readaheadSubdirs(fd, h.entries)
	return h, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// readDirents reads the entries of the directory fd from offset on.
func readDirents(fd int, offset uint64) ([]fuse.DirEntry, error) {
	if _, err := unix.Seek(fd, int64(offset), 0); err != nil {
		return nil, err
	}
	var entries []fuse.DirEntry
	buf := make([]byte, 32<<10)
	for {
		n, err := retryEINTR(func() (int, error) { return unix.Getdents(fd, buf) })
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return entries, nil
		}
		entries = parseDirents(buf[:n], entries)
	}
}

func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if h.pos >= len(h.entries) {
		return nil, 0
	}
	e := &h.entries[h.pos]
	h.pos++
	return e, 0
}

// Seekdir goes to the entry after the one whose offset is off. Where no
// entry has it any more (it was removed since), the backing filesystem
// finds the place: the directory is read again from off, which is what
// its offsets are for (ext4's are hashes, tmpfs lists newest first: no
// order of them to rely on here).
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off == h.from {
		h.pos = 0
		return 0
	}
	for i := range h.entries {
		if h.entries[i].Off == off {
			h.pos = i + 1
			return 0
		}
	}
	entries, err := readDirents(h.fd, off)
	if err != nil {
		return h.d.t.errno(err)
	}
	h.entries, h.from, h.pos = entries, off, 0
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
	return h.d.t.errno(atfile.Fsync(h.fd))
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
			Off:  *(*uint64)(unsafe.Pointer(&rec[8])),
			Mode: uint32(rec[18]) << 12, // DT_* is S_IFMT >> 12
			Name: string(name),
		})
	}
	return out
}
