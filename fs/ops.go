package fs

// Code below counts FUSE operations for mountd status and the
// benchmarks, and marks the requests that change the private tree (see
// prefetch.go); each method only does that and passes the request on.

import (
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// opCounter counts requests by operation name.
type opCounter struct {
	n []atomic.Int64
}

const (
	opLookup = iota
	opGetAttr
	opSetAttr
	opRead
	opWrite
	opMkdir
	opMknod
	opUnlink
	opRmdir
	opRename
	opLink
	opSymlink
	opReadlink
	opGetXAttr
	opListXAttr
	opSetXAttr
	opRemoveXAttr
	opFsync
	opFallocate
	opStatFs
	opOpen
	opCreate
	opReadDir
	opReadDirPlus
	opForget
	opRelease
	opCount
)

var opNames = [...]string{opLookup: "LOOKUP", opGetAttr: "GETATTR", opSetAttr: "SETATTR", opRead: "READ", opWrite: "WRITE", opMkdir: "MKDIR", opMknod: "MKNOD", opUnlink: "UNLINK", opRmdir: "RMDIR", opRename: "RENAME", opLink: "LINK", opSymlink: "SYMLINK", opReadlink: "READLINK", opGetXAttr: "GETXATTR", opListXAttr: "LISTXATTR", opSetXAttr: "SETXATTR", opRemoveXAttr: "REMOVEXATTR", opFsync: "FSYNC", opFallocate: "FALLOCATE", opStatFs: "STATFS", opOpen: "OPEN", opCreate: "CREATE", opReadDir: "READDIR", opReadDirPlus: "READDIRPLUS", opForget: "FORGET", opRelease: "RELEASE"}

func newOpCounter() *opCounter { return &opCounter{n: make([]atomic.Int64, opCount)} }

func (c *opCounter) add(op int) { c.n[op].Add(1) }

// snapshot returns the non-zero counts by operation name.
func (c *opCounter) snapshot() map[string]int64 {
	out := map[string]int64{}
	for i := range c.n {
		if v := c.n[i].Load(); v > 0 {
			out[opNames[i]] = v
		}
	}
	return out
}

func (r *rawFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	r.ops.add(opLookup)
	st := r.RawFileSystem.Lookup(cancel, header, name, out)
	noEntryAttrCache(out)
	return st
}

func (r *rawFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	r.ops.add(opGetAttr)
	st := r.RawFileSystem.GetAttr(cancel, in, out)
	noAttrCache(out)
	return st
}

func (r *rawFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	r.ops.add(opSetAttr)
	defer r.changing()()
	st := r.RawFileSystem.SetAttr(cancel, in, out)
	volatile := isVolatile(out.AttrValid, out.AttrValidNsec)
	noAttrCache(out)
	if st == fuse.OK && !volatile {
		// go-fuse leaves a SETATTR's attributes without a timeout, and the
		// kernel then asks again at the next access (a permission check,
		// a stat). They are read after the change, as a GETATTR's are.
		out.SetTimeout(r.t.attrTimeout)
	}
	return st
}

func (r *rawFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	r.ops.add(opRead)
	return r.RawFileSystem.Read(cancel, in, buf)
}

func (r *rawFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	r.ops.add(opWrite)
	defer r.changing()()
	return r.RawFileSystem.Write(cancel, in, data)
}

func (r *rawFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	r.ops.add(opMkdir)
	defer r.changing()()
	req := *in
	req.Mode = withUmask(in.Mode, in.Umask)
	return r.RawFileSystem.Mkdir(cancel, &req, name, out)
}

func (r *rawFS) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	r.ops.add(opMknod)
	defer r.changing()()
	req := *in
	req.Mode = withUmask(in.Mode, in.Umask)
	return r.RawFileSystem.Mknod(cancel, &req, name, out)
}

func (r *rawFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	r.ops.add(opUnlink)
	defer r.changing()()
	return r.RawFileSystem.Unlink(cancel, header, name)
}

func (r *rawFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	r.ops.add(opRmdir)
	defer r.changing()()
	return r.RawFileSystem.Rmdir(cancel, header, name)
}

func (r *rawFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName string, newName string) fuse.Status {
	r.ops.add(opRename)
	defer r.changing()()
	return r.RawFileSystem.Rename(cancel, in, oldName, newName)
}

func (r *rawFS) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	r.ops.add(opLink)
	defer r.changing()()
	st := r.RawFileSystem.Link(cancel, in, name, out)
	noEntryAttrCache(out)
	return st
}

func (r *rawFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, target string, name string, out *fuse.EntryOut) fuse.Status {
	r.ops.add(opSymlink)
	defer r.changing()()
	return r.RawFileSystem.Symlink(cancel, header, target, name, out)
}

func (r *rawFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) ([]byte, fuse.Status) {
	r.ops.add(opReadlink)
	return r.RawFileSystem.Readlink(cancel, header)
}

func (r *rawFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	r.ops.add(opGetXAttr)
	return r.RawFileSystem.GetXAttr(cancel, header, attr, dest)
}

func (r *rawFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	r.ops.add(opListXAttr)
	return r.RawFileSystem.ListXAttr(cancel, header, dest)
}

func (r *rawFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	r.ops.add(opSetXAttr)
	defer r.changing()()
	return r.RawFileSystem.SetXAttr(cancel, in, attr, data)
}

func (r *rawFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) fuse.Status {
	r.ops.add(opRemoveXAttr)
	defer r.changing()()
	return r.RawFileSystem.RemoveXAttr(cancel, header, attr)
}

func (r *rawFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	r.ops.add(opFsync)
	return r.RawFileSystem.Fsync(cancel, in)
}

func (r *rawFS) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	r.ops.add(opFallocate)
	defer r.changing()()
	return r.RawFileSystem.Fallocate(cancel, in)
}

func (r *rawFS) StatFs(cancel <-chan struct{}, header *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	r.ops.add(opStatFs)
	return r.RawFileSystem.StatFs(cancel, header, out)
}

// changing moves the prefetch epoch before a request that changes the
// private tree; the function it returns moves it again after.
func (r *rawFS) changing() func() {
	r.t.pre.changed()
	return r.t.pre.changed
}

func (r *rawFS) Tmpfile(cancel <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	defer r.changing()()
	req := *in
	req.Mode = withUmask(in.Mode, in.Umask)
	st := r.RawFileSystem.Tmpfile(cancel, &req, out)
	noEntryAttrCache(&out.EntryOut)
	return st
}

func (r *rawFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	r.ops.add(opWrite)
	defer r.changing()()
	return r.RawFileSystem.Writev(cancel, in, data)
}

func (r *rawFS) CopyFileRange(cancel <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	defer r.changing()()
	return r.RawFileSystem.CopyFileRange(cancel, in)
}

func (r *rawFS) Ioctl(cancel <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	defer r.changing()()
	return r.RawFileSystem.Ioctl(cancel, in, inbuf, out, outbuf)
}
