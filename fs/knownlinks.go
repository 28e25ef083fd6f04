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
// an eighth of the values, whichever the maps yield first, go. A map per
// era, keyed by inode: 24 bytes a slot instead of 32 with the era in the
// key, and an era that ends takes its whole table with it (a Go map
// keeps its table when its keys go).
type knownLinks struct {
	mu   sync.RWMutex // lookups, one per entry a listing or lookup stats, share it
	eras map[uint64]map[uint64]knownLink
	n    int // values in all eras
}

type knownLink struct {
	ctime int64       // ns
	link  *linkTarget // resolved, shared with the template's cache
}

// maxKnownLinks bounds the process's remembered values (about 50 bytes
// each in the maps).
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
	l, ok := k.eras[era][st.Ino]
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
	if k.n >= maxKnownLinks {
		k.dropSomeLocked(maxKnownLinks / 8)
	}
	if k.eras == nil {
		k.eras = make(map[uint64]map[uint64]knownLink)
	}
	m := k.eras[era]
	if m == nil {
		m = make(map[uint64]knownLink)
		k.eras[era] = m
	}
	if _, ok := m[st.Ino]; !ok {
		k.n++
	}
	m[st.Ino] = knownLink{ctime: st.Ctim.Nano(), link: link}
}

func (k *knownLinks) dropSomeLocked(drop int) {
	for era, m := range k.eras {
		for ino := range m {
			delete(m, ino)
			k.n--
			if drop--; drop == 0 {
				return
			}
		}
		delete(k.eras, era)
	}
}

func (k *knownLinks) forget(era, ino uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if m := k.eras[era]; m != nil {
		if _, ok := m[ino]; ok {
			delete(m, ino)
			k.n--
		}
	}
}

// dropEra forgets what was remembered in era, which no tree uses any
// more: its memory goes back at once, not when the bound is reached.
func (k *knownLinks) dropEra(era uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n -= len(k.eras[era])
	delete(k.eras, era)
	if len(k.eras) == 0 {
		k.eras = nil
	}
}

// size is for tests.
func (k *knownLinks) size() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.n
}
