package fs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Attributes that change without a request. A private file opened for
// writing with passthrough can be written through a shared mapping: the
// kernel dirties the backing file's pages and the backing filesystem
// moves its mtime and ctime, and neither reaches the daemon. The kernel
// must not cache such a file's attributes: every stat asks the daemon,
// which stats the backing file. A mapping keeps the FUSE dentry (and so
// the node) alive, so the mark lasts as long as any mapping can.
//
// go-fuse replaces a zero timeout with the mount's; the node methods
// reply with volatileTimeout instead, which rawFS turns into zero.
const volatileTimeout = time.Nanosecond

// attrsVolatile reports whether the kernel must not cache n's attributes.
func (n *node) attrsVolatile() bool {
	f, ok := n.Operations().(*fileNode)
	return ok && f.written.Load()
}

// markWritten records an open for writing that the kernel serves with
// passthrough, and drops the attributes the kernel cached before, which
// it would otherwise trust for the mount's full timeout. Attributes
// only: that takes no lock an OPEN holds.
func (f *fileNode) markWritten(writable bool) {
	if writable && f.t.passthrough && f.written.CompareAndSwap(false, true) {
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
