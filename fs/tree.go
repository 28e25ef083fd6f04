package fs

import (
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"
)

// Generations tell a link entry from the file it is copied into, and
// from the same entry relinked to another template file: each is a
// different FUSE inode of the same private inode, so that no open of one
// shares the passthrough backing of another (see doc.go, Identity).
// Plain files have generation 2; a link's is odd, from its value.
const genPlain = 2

// linkGen is FNV-1a of the value, written out: hash/fnv's Write copied
// the value to the heap on every lookup.
func linkGen(value string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(value); i++ {
		h ^= uint64(value[i])
		h *= fnvPrime64
	}
	return h | 1
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// tree is what every node of one mount shares.
type tree struct {
	tmpl        *Template
	passthrough bool
	log         *slog.Logger
	stats       Stats
	ra          readahead
	pre         prefetch
	era         atomic.Uint64 // of the link values it remembers (knownlinks.go)
	attrTimeout time.Duration // the mount's, for replies go-fuse gives none (ops.go)

	privRoot   int          // the private tree's root, on the clone of its mount (atime.go)
	privCloned bool         // privRoot is on a clone whose atime setting is ours
	atime      atomic.Int32 // the clone's Atime setting
}

// Stats counts what a mount did; read it with Server.Stats.
type Stats struct {
	CopyUps          atomic.Int64 // link entries copied into the private area
	CopyUpBytes      atomic.Int64
	PassthroughOpens atomic.Int64 // opens served by the kernel with a backing file
	DaemonOpens      atomic.Int64 // opens whose I/O goes through the daemon
	BadLinks         atomic.Int64 // link entries refused as malformed or escaping
	Errors           atomic.Int64 // errors logged as internal (EIO)
}

// StatsSnapshot is a copy of Stats for reporting.
type StatsSnapshot struct {
	CopyUps          int64 `json:"copy_ups"`
	CopyUpBytes      int64 `json:"copy_up_bytes"`
	PassthroughOpens int64 `json:"passthrough_opens"`
	DaemonOpens      int64 `json:"daemon_opens"`
	BadLinks         int64 `json:"bad_links"`
	Errors           int64 `json:"errors"`
}

func (s *Stats) snapshot() StatsSnapshot {
	return StatsSnapshot{
		CopyUps:          s.CopyUps.Load(),
		CopyUpBytes:      s.CopyUpBytes.Load(),
		PassthroughOpens: s.PassthroughOpens.Load(),
		DaemonOpens:      s.DaemonOpens.Load(),
		BadLinks:         s.BadLinks.Load(),
		Errors:           s.Errors.Load(),
	}
}

func (t *tree) errno(err error) syscall.Errno {
	errno := errnoOf(t.log, err)
	if errno == syscall.EIO {
		t.stats.Errors.Add(1)
	}
	return errno
}
