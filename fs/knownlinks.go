package fs

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Link values already read, by private inode. A link value longer than
// what fits in the inode (on ext4 with 256-byte inodes, about 60 bytes:
// most of a Debian template's) lives in a block of its own, one more disk
// read for every link entry the kernel looks up after it evicted the
// entry, or after the kernel's inodes were dropped: a cold walk of the Go
// tree read 2,700 such blocks, and remembering the values took its time
// from 0.47 s to 0.40 s.
//
// A remembered value is used only for an empty regular file whose ctime
// is the one it had when the value was read: setting or removing an
// attribute, like every change of an inode, moves the ctime to the
// present. Values are remembered only of inodes whose ctime is more than
// a second old, so that a change right after the read cannot land on the
// same (coarse) timestamp. Copy-ups through the mount forget the inode
// besides; a change behind the mount (mountd's Invalidate) starts the
// tree on a new era and forgets the old one's, as does the mount's end.
//
// One bound for the whole process, as mountd serves many mounts: past it
// an eighth of the values, whichever the map yields first, go.
type knownLinks struct {
	mu   sync.RWMutex // lookups, one per entry a listing or lookup stats, share it
	m    map[knownKey]knownLink
	peak int // the most entries m has held: a Go map keeps its table when emptied
}

type knownKey struct {
	era uint64 // the tree's, see tree.era
	ino uint64
}

type knownLink struct {
	ctime int64       // ns
	link  *linkTarget // resolved, shared with the template's cache
}

// maxKnownLinks bounds the process's remembered values (at most about
// 80 bytes each in the map).
const maxKnownLinks = 1 << 17

var (
	known   knownLinks
	lastEra atomic.Uint64
	// knownMinAge is how old a ctime must be (tests shorten it).
	knownMinAge = time.Second
)

func newEra() uint64 { return lastEra.Add(1) }

// lookup returns the resolved link remembered for st, if it still holds.
func (k *knownLinks) lookup(era uint64, st *unix.Stat_t) (*linkTarget, bool) {
	if st.Size != 0 {
		return nil, false
	}
	k.mu.RLock()
	l, ok := k.m[knownKey{era, st.Ino}]
	k.mu.RUnlock()
	if !ok || l.ctime != st.Ctim.Nano() {
		return nil, false
	}
	return l.link, true
}

// remember records the link read from an empty file stat as st; only
// a resolved one, as the template keeps no failure either (the package
// may be installed later).
func (k *knownLinks) remember(era uint64, st *unix.Stat_t, link *linkTarget) {
	if st.Size != 0 || time.Since(time.Unix(st.Ctim.Unix())) < knownMinAge {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[knownKey]knownLink)
	}
	if len(k.m) >= maxKnownLinks {
		drop := maxKnownLinks / 8
		for key := range k.m {
			delete(k.m, key)
			if drop--; drop == 0 {
				break
			}
		}
	}
	k.m[knownKey{era, st.Ino}] = knownLink{ctime: st.Ctim.Nano(), link: link}
	k.peak = max(k.peak, len(k.m))
}

func (k *knownLinks) forget(era, ino uint64) {
	k.mu.Lock()
	delete(k.m, knownKey{era, ino})
	k.mu.Unlock()
}

// dropEra forgets what was remembered in era, which no tree uses any
// more: its memory goes back at once, not when the bound is reached. A
// Go map does not shrink as keys go, so one left at less than half its
// peak is copied into a map of its size (when the last mount ends, none).
func (k *knownLinks) dropEra(era uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key := range k.m {
		if key.era == era {
			delete(k.m, key)
		}
	}
	switch {
	case len(k.m) == 0:
		k.m, k.peak = nil, 0
	case len(k.m) < k.peak/2:
		m := make(map[knownKey]knownLink, len(k.m))
		for key, v := range k.m {
			m[key] = v
		}
		k.m, k.peak = m, len(m)
	}
}

// size is for tests.
func (k *knownLinks) size() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.m)
}
