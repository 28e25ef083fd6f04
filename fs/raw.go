package fs

import (
	"slices"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// rawFS is a thin layer over go-fuse's bridge at the protocol level.
//
// OPENDIR and FLUSH answer ENOSYS: the kernel then stops sending them for
// the life of the mount, opens directories with no round trip, and caches
// their listings (FOPEN_KEEP_CACHE|FOPEN_CACHE_DIR). Its READDIR requests
// then carry handle 0, which the bridge cannot serve: it finds a
// directory's stream by the handle OPENDIR returned. So rawFS opens a
// stream inside the daemon for every listing that starts (a READDIR at
// offset 0), keeps it while the kernel reads on, and releases it at the
// end of the listing or when the kernel forgets the directory.
//
// A stream holds the entries as they were when it was opened, so it must
// never serve a listing that starts later: the kernel asks for offset 0
// again after every change through the mount (and after Invalidate), and
// a listing that stopped early (a scandir that found its name) or a
// stream opened for anything else would otherwise hand it the old
// entries. A listing in progress keeps reading its own stream, found by
// the offset it continues at, even while another one starts on the same
// directory.
type rawFS struct {
	fuse.RawFileSystem
	t *tree

	mu       sync.Mutex
	streams  map[uint64][]*dirStream // by nodeid, listings in progress, oldest first
	nstreams int
	ops      *opCounter
}

// maxStreams bounds the directory streams kept between READDIRs of
// listings nobody reads to the end; maxNodeStreams those of one
// directory.
const (
	maxStreams     = 256
	maxNodeStreams = 8
)

func newRawFS(bridge fuse.RawFileSystem, t *tree) *rawFS {
	return &rawFS{RawFileSystem: bridge, t: t, streams: make(map[uint64][]*dirStream), ops: newOpCounter()}
}

func (r *rawFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return fuse.ENOSYS
}

func (r *rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	return fuse.ENOSYS
}

func (r *rawFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	r.ops.add(opReadDir)
	return r.readDir(cancel, in, out, r.RawFileSystem.ReadDir)
}

func (r *rawFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	r.ops.add(opReadDirPlus)
	return r.readDir(cancel, in, out, r.RawFileSystem.ReadDirPlus)
}

func (r *rawFS) readDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList,
	read func(<-chan struct{}, *fuse.ReadIn, *fuse.DirEntryList) fuse.Status) fuse.Status {
	if in.Fh != 0 {
		return read(cancel, in, out)
	}
	s, st := r.acquire(cancel, &in.InHeader, in.Offset)
	if st != fuse.OK {
		return st
	}
	req := *in
	req.Fh = s.fh
	st = read(cancel, &req, out)
	// At the end of the listing, or on an error, the stream is done.
	r.put(s, out.Offset, st != fuse.OK || out.Offset == in.Offset)
	return st
}

// FsyncDir needs no stream: the bridge hands a request without a handle
// to dirNode.Fsync, which opens the directory for it. (A stream opened
// here and kept used to serve the next listing with the entries of
// before the fsync.)
func (r *rawFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return r.RawFileSystem.FsyncDir(cancel, in)
}

// dirStream is an internal directory handle of the bridge. It is released
// once it has left the map and no request uses it any more: the bridge
// panics on a handle released under a request that still uses it.
type dirStream struct {
	fh     uint64
	users  int
	inMap  bool
	nodeID uint64
	next   uint64 // the offset its listing continues at
}

// acquire returns the stream to serve a READDIR at offset: a new one for
// a listing that starts, else the one whose listing stopped at offset
// (another stream of the directory, seeked, if none did). The bridge
// seeks a stream to whatever offset a READDIR asks for. A new stream
// reads its directory without the lock: listings of other directories
// go on meanwhile.
func (r *rawFS) acquire(cancel <-chan struct{}, h *fuse.InHeader, offset uint64) (*dirStream, fuse.Status) {
	r.mu.Lock()
	if ss := r.streams[h.NodeId]; offset != 0 && len(ss) > 0 {
		s := ss[len(ss)-1]
		for _, c := range ss {
			if c.next == offset {
				s = c
				break
			}
		}
		s.users++
		r.mu.Unlock()
		return s, fuse.OK
	}
	r.mu.Unlock()

	var out fuse.OpenOut
	if st := r.RawFileSystem.OpenDir(cancel, &fuse.OpenIn{InHeader: *h}, &out); st != fuse.OK {
		return nil, st
	}
	s := &dirStream{fh: out.Fh, users: 1, inMap: true, nodeID: h.NodeId, next: offset}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ss := r.streams[h.NodeId]; len(ss) >= maxNodeStreams {
		r.dropLocked(ss[0])
	}
	if r.nstreams >= maxStreams {
		for _, ss := range r.streams {
			r.dropLocked(ss[0])
			break
		}
	}
	r.streams[h.NodeId] = append(r.streams[h.NodeId], s)
	r.nstreams++
	return s, fuse.OK
}

// put ends a request on s, which read up to next; drop ends its listing.
func (r *rawFS) put(s *dirStream, next uint64, drop bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.users--
	s.next = next
	if drop {
		r.dropLocked(s)
	}
	r.releaseIfIdleLocked(s)
}

func (r *rawFS) dropLocked(s *dirStream) {
	if s.inMap {
		ss := slices.DeleteFunc(r.streams[s.nodeID], func(c *dirStream) bool { return c == s })
		if len(ss) == 0 {
			delete(r.streams, s.nodeID)
		} else {
			r.streams[s.nodeID] = ss
		}
		r.nstreams--
		s.inMap = false
	}
	r.releaseIfIdleLocked(s)
}

func (r *rawFS) releaseIfIdleLocked(s *dirStream) {
	if !s.inMap && s.users == 0 && s.fh != 0 {
		r.RawFileSystem.ReleaseDir(&fuse.ReleaseIn{InHeader: fuse.InHeader{NodeId: s.nodeID}, Fh: s.fh})
		s.fh = 0
	}
}

func (r *rawFS) Forget(nodeID, nlookup uint64) {
	r.ops.add(opForget)
	r.mu.Lock()
	for _, s := range slices.Clone(r.streams[nodeID]) {
		r.dropLocked(s)
	}
	r.mu.Unlock()
	r.RawFileSystem.Forget(nodeID, nlookup)
}

// Open and Create count how the kernel serves each open, and say once in
// the log when it refuses passthrough.
func (r *rawFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	r.ops.add(opOpen)
	if in.Flags&(unix.O_WRONLY|unix.O_RDWR|unix.O_TRUNC) != 0 {
		defer r.changing()() // a link opened to write is copied up
	}
	st := r.RawFileSystem.Open(cancel, in, out)
	if st == fuse.OK {
		r.countOpen(out)
	}
	return st
}

func (r *rawFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	r.ops.add(opCreate)
	defer r.changing()()
	req := *in
	req.Mode = withUmask(in.Mode, in.Umask)
	st := r.RawFileSystem.Create(cancel, &req, name, out)
	noEntryAttrCache(&out.EntryOut)
	if st == fuse.OK {
		r.countOpen(&out.OpenOut)
	}
	return st
}

var passthroughRefused sync.Once

func (r *rawFS) countOpen(out *fuse.OpenOut) {
	if out.OpenFlags&fuse.FOPEN_PASSTHROUGH != 0 {
		r.t.stats.PassthroughOpens.Add(1)
		return
	}
	r.t.stats.DaemonOpens.Add(1)
	if r.t.passthrough {
		passthroughRefused.Do(func() {
			r.t.log.Warn("the kernel refused FUSE passthrough; reads and writes go through the daemon (slower, page cache not shared)")
		})
	}
}

func (r *rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	r.ops.add(opRelease)
	r.RawFileSystem.Release(cancel, in)
}
