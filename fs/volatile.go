package fs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Attributes that change without a request. A private file opened
// read-write with passthrough can be written through a shared mapping:
// the kernel dirties the backing file's pages and the backing filesystem
// moves its mtime and ctime, and neither reaches the daemon. The kernel
// must not cache such a file's attributes: every stat asks the daemon,
// which stats the backing file. The mapping is of the backing file and
// outlives the FUSE file's RELEASE, but it keeps the FUSE dentry (and so
// the node) alive, so the mark lasts as long as any mapping can.
//
// Only a read-write open can make such a mapping: mmap needs a file open
// for reading, and a shared mapping of a read-only file can never be
// made writable. Files written through a write-only open (tar, cp, a
// compiler's output) keep cached attributes: the kernel itself drops
// them after each passthrough write, and stats such a file afresh.
//
// go-fuse replaces a zero timeout with the mount's; the node methods
// reply with volatileTimeout instead, which rawFS turns into zero.
const volatileTimeout = time.Nanosecond

// attrsVolatile reports whether the kernel must not cache n's attributes.
func (n *node) attrsVolatile() bool {
	f, ok := n.Operations().(*fileNode)
	return ok && f.written.Load()
}

// markWritten records a read-write open that the kernel serves with
// passthrough, and drops the attributes the kernel cached before, which
// it would otherwise trust for the mount's full timeout. Attributes
// only: that takes no lock an OPEN holds.
func (f *fileNode) markWritten(flags uint32) {
	if flags&unix.O_ACCMODE == unix.O_RDWR && f.t.passthrough && f.written.CompareAndSwap(false, true) {
		f.NotifyContent(-1, 0)
	}
}

func isVolatile(valid uint64, nsec uint32) bool {
	return valid == 0 && nsec == uint32(volatileTimeout)
}

func noAttrCache(out *fuse.AttrOut) {
	if isVolatile(out.AttrValid, out.AttrValidNsec) {
		out.AttrValidNsec = 0
	}
}

func noEntryAttrCache(out *fuse.EntryOut) {
	if isVolatile(out.AttrValid, out.AttrValidNsec) {
		out.AttrValidNsec = 0
	}
}
