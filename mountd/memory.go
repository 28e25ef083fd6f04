package mountd

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/ezfs/ezfs/fs"
	"golang.org/x/sys/unix"
)

// The daemon's memory. Most of what it holds is per inode the kernel has
// cached in some mount (go-fuse's node table, ezfs's nodes, remembered
// link values), and goes when the kernel forgets the inodes or the mount
// ends. Go's collector then has the memory back but keeps it, with its
// headroom (GOGC), until its scavenger returns it over minutes; mountd
// hands it back itself once it is idle.

const (
	// trimTick is how often the daemon looks whether it is idle;
	// trimIdleTicks how many ticks in a row it must allocate less than
	// trimQuiet before memory is handed back.
	trimTick      = time.Second
	trimIdleTicks = 2
	trimQuiet     = 256 << 10
	// trimMin is how much must have been allocated since the last trim,
	// and at least a quarter of the live heap (or a mount have ended),
	// for a collection to be worth it: a daemon answering a status now
	// and then does not collect a large heap every few seconds.
	trimMin = 4 << 20
	// afterMountPasses is how many trims follow the end of a mount.
	afterMountPasses = 3
)

// tuneMemory sets a memory limit unless the environment chose one
// (GOMEMLIMIT). The collector's headroom stays Go's default (GOGC=100):
// 50 left 15 % less resident at the end of a walk, which the idle trim
// below gives back anyway, and measured slower cold walks.
func tuneMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		if limit := memoryLimit(); limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}

// memoryLimit is half the machine's memory, at least 256 MiB: a soft
// bound past which the collector works harder (up to half the CPU)
// rather than let a daemon holding many large mounts push the node into
// swap. Below it, GOGC alone sets the headroom. Not lower: a live heap
// past the limit keeps the collector running.
func memoryLimit() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return max(int64(si.Totalram)*int64(si.Unit)/2, 256<<20)
}

// trimmer hands memory back to the system when the daemon is idle after
// it allocated enough to matter, or after a mount ended.
type trimmer struct {
	ended chan struct{} // a mount ended
	// heap reads the bytes allocated so far and the live heap; free
	// returns memory. Tests replace both.
	heap func() (allocated, live uint64)
	free func()
}

func newTrimmer() *trimmer {
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	return &trimmer{
		ended: make(chan struct{}, 1),
		heap: func() (uint64, uint64) {
			metrics.Read(samples)
			return samples[0].Value.Uint64(), samples[1].Value.Uint64()
		},
		free: freeOSMemory,
	}
}

// freeOSMemory returns to the system what the heap does not use, the
// stacks of ended goroutines included.
func freeOSMemory() {
	fs.ReleaseGoroutineCache()
	debug.FreeOSMemory()
}

// mountEnded tells the trimmer that a mount's memory is now garbage.
func (tr *trimmer) mountEnded() {
	select {
	case tr.ended <- struct{}{}:
	default:
	}
}

// run trims until stop closes. After a mount ended it trims
// afterMountPasses times, a tick apart: what the mount's last requests
// left in go-fuse's buffer pools, and what objects with finalizers or
// cleanups (directory nodes close their fds in one) referred to, survive
// the first collection; after 5 rounds of 4 mounts walked the heap in
// use was 5.4 MiB after two and 2.5 MiB after three.
func (tr *trimmer) run(stop <-chan struct{}, tick <-chan time.Time) {
	last, _ := tr.heap()
	prev, quiet, passes := last, 0, 0
	for {
		select {
		case <-stop:
			return
		case <-tr.ended:
			passes = afterMountPasses
			continue
		case <-tick:
		}
		now, live := tr.heap()
		if now-prev < trimQuiet {
			quiet++
		} else {
			quiet = 0
		}
		prev = now
		if quiet < trimIdleTicks || (passes == 0 && now-last < max(trimMin, live/4)) {
			continue
		}
		tr.free()
		if passes > 0 {
			passes--
		}
		// What the trim itself allocated does not count.
		last, _ = tr.heap()
		prev = last
	}
}
