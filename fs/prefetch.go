package fs

import (
	"sync"
	"sync/atomic"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Prefetched lookups. Readahead (readahead.go) stats the entries of the
// directories the kernel is about to list; keeping what it found lets the
// READDIRPLUS that follows answer from memory instead of making the same
// system calls again, one entry after the other.
//
// A result is used only when nothing can have changed it since it was
// read: every request that changes the private tree, and every
// invalidation of changes made behind the mount, moves the epoch before
// and after its work, and a result read under another epoch is dropped.
// Plain regular files are never kept (see prefetchEntries): writes to
// them go from the kernel to the backing file (passthrough) without the
// daemon seeing them. Link entries, directories, symlinks and devices
// change only through the daemon.
//
// What nobody takes within prefetchTTL (readahead of directories the
// kernel never lists) is dropped: an idle mount holds nothing.
type prefetch struct {
	epoch    atomic.Uint64
	mu       sync.Mutex
	m        map[prefetchKey]*prefetched
	listings map[uint64]prefetchedListing // by directory inode
	listed   int                          // entries in listings
	sweep    *time.Timer                  // scheduled while anything is kept
	closed   bool
}

type prefetchedListing struct {
	entries []fuse.DirEntry
	epoch   uint64
	at      time.Time
}

const (
	// maxPrefetched bounds the results waiting for a lookup (about 200
	// bytes each), maxListed the entries of kept listings (about 40).
	maxPrefetched = 16384
	maxListed     = 65536
	prefetchTTL   = 2 * time.Second
)

type prefetchKey struct {
	dir  uint64 // the directory's private inode
	name string
}

type prefetched struct {
	st    unix.Stat_t
	id    fusefs.StableAttr
	link  *linkTarget
	epoch uint64
	at    time.Time
}

// changed marks the private tree as changing: results read before now
// are not used.
func (p *prefetch) changed() {
	p.epoch.Add(1)
	p.mu.Lock()
	if len(p.m) > 0 {
		clear(p.m)
	}
	if len(p.listings) > 0 {
		clear(p.listings)
		p.listed = 0
	}
	p.mu.Unlock()
}

// sweepLater schedules a sweep if none is; p.mu is held.
func (p *prefetch) sweepLater() {
	if p.sweep == nil && !p.closed {
		p.sweep = time.AfterFunc(prefetchTTL, p.sweepOld)
	}
}

// close drops everything kept and the scheduled sweep, whose timer
// would otherwise keep the mount's tree (and its template) reachable for
// a while after the mount ended.
func (p *prefetch) close() {
	p.epoch.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.m, p.listings, p.listed = nil, nil, 0
}

// sweepOld drops what has waited longer than prefetchTTL.
func (p *prefetch) sweepOld() {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := time.Now().Add(-prefetchTTL)
	for k, e := range p.m {
		if e.at.Before(old) {
			delete(p.m, k)
		}
	}
	for k, l := range p.listings {
		if l.at.Before(old) {
			p.listed -= len(l.entries)
			delete(p.listings, k)
		}
	}
	p.sweep = nil
	// Emptied, the maps go: a Go map keeps its table when its keys do.
	if len(p.m) == 0 {
		p.m = nil
	}
	if len(p.listings) == 0 {
		p.listings = nil
	}
	if p.m != nil || p.listings != nil {
		p.sweepLater()
	}
}

func (p *prefetch) put(dir uint64, name string, e *prefetched) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.epoch != p.epoch.Load() || p.closed {
		return
	}
	if p.m == nil {
		p.m = make(map[prefetchKey]*prefetched)
	}
	if len(p.m) < maxPrefetched {
		e.at = time.Now()
		p.m[prefetchKey{dir, name}] = e
		p.sweepLater()
	}
}

// take returns the result kept for (dir, name), once, if it still holds.
func (p *prefetch) take(dir uint64, name string) *prefetched {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := prefetchKey{dir, name}
	e := p.m[k]
	if e == nil {
		return nil
	}
	delete(p.m, k)
	if e.epoch != p.epoch.Load() {
		return nil
	}
	return e
}

// putListing keeps a directory's entries (which it takes over) for the
// listing that follows; epoch is the one read before they were.
func (p *prefetch) putListing(dir uint64, entries []fuse.DirEntry, epoch uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch != p.epoch.Load() || p.closed {
		return
	}
	if p.listings == nil {
		p.listings = make(map[uint64]prefetchedListing)
	}
	if _, ok := p.listings[dir]; !ok && p.listed+len(entries) <= maxListed {
		p.listings[dir] = prefetchedListing{entries, epoch, time.Now()}
		p.listed += len(entries)
		p.sweepLater()
	}
}

// takeListing returns the entries kept for directory dir, once, if they
// still hold.
func (p *prefetch) takeListing(dir uint64) []fuse.DirEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.listings[dir]
	if !ok {
		return nil
	}
	delete(p.listings, dir)
	p.listed -= len(l.entries)
	if l.epoch != p.epoch.Load() {
		return nil
	}
	return l.entries
}

// has reports whether a result for (dir, name) is waiting.
func (p *prefetch) has(dir uint64, name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.m[prefetchKey{dir, name}]
	return ok
}

// prefetchEntries reads what a lookup of each name in dirfd needs and
// keeps it for the lookup.
func (t *tree) prefetchEntries(dirfd int, dirIno uint64, entries []fuse.DirEntry) {
	// The epoch is read before anything of the directory is.
	epoch := t.pre.epoch.Load()
	for _, e := range entries {
		if e.Name == "." || e.Name == ".." || t.pre.has(dirIno, e.Name) {
			continue
		}
		r := &prefetched{epoch: epoch}
		if statAt(dirfd, e.Name, &r.st) != nil {
			continue
		}
		id, link, err := t.identify(dirfd, e.Name, &r.st)
		if err != nil || (id.Mode == unix.S_IFREG && link == nil) {
			continue // its size may change by passthrough writes the daemon never sees
		}
		r.id, r.link = id, link
		t.pre.put(dirIno, e.Name, r)
	}
}
