package fs

import (
	"os"
	"runtime"
	"sync"
)

// minProcs is the fewest Ps (GOMAXPROCS) a serving process runs with.
//
// A goroutine blocked in a system call keeps its P until the runtime's
// monitor takes it back, which can take up to milliseconds. Readahead
// workers block on cold disk reads all the time, so with one P per CPU
// on a small machine the request that the kernel waits for found no P
// free and queued behind them: a cold walk of the bench tree on 2 CPUs
// took 0.58 s with 2 Ps and 0.47 s with 8 (16 or 32 measured the same
// as 8). The CPUs are not oversubscribed by this: most of those Ps sit
// in system calls.
const minProcs = readaheadWorkers

var (
	procsMu   sync.Mutex // serializes changes of GOMAXPROCS
	baseProcs int        // GOMAXPROCS before raiseProcs raised it; 0 if it did not
)

// raiseProcs makes GOMAXPROCS at least minProcs, unless the user chose a
// value in the environment.
func raiseProcs() {
	procsMu.Lock()
	defer procsMu.Unlock()
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if n := runtime.GOMAXPROCS(0); n < minProcs {
		baseProcs = n
		runtime.GOMAXPROCS(minProcs)
	}
}

// withBaseProcs runs f with GOMAXPROCS as it was before raiseProcs. It
// is for go-fuse's NewServer, which lets a mount have one request reader
// per P (up to 16), each holding a 128 KiB buffer while it waits: 8
// readers instead of 2 made no walk faster but kept 1 MiB more in every
// mount that had served many requests at once (the soak test's mountd:
// 44 MiB against 41 MiB with 4 mounts). go-fuse has no setting for it.
func withBaseProcs(f func()) {
	procsMu.Lock()
	defer procsMu.Unlock()
	if baseProcs == 0 {
		f()
		return
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(baseProcs))
	f()
}

// ReleaseGoroutineCache hands the goroutines that ended, with their
// stacks, from every P's cache to the runtime's global list, whose
// stacks the next collection frees. Each P keeps up to 64 for reuse: an
// idle mountd that had served walks on 8 Ps held 4 to 6 MiB of stacks
// for 5 live goroutines. Shrinking GOMAXPROCS to 1 and back moves them;
// it takes procsMu, as raiseProcs and withBaseProcs change GOMAXPROCS.
func ReleaseGoroutineCache() {
	procsMu.Lock()
	defer procsMu.Unlock()
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
}
