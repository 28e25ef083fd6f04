package fs

import (
	"os"
	"runtime"
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
// in system calls. A side effect: go-fuse starts up to one request
// reader per P for each mount (2 before), and a reader waiting for a
// request holds a 128 KiB buffer, so a mount that served many requests
// at once keeps about 1 MiB when idle; 2 readers with 8 Ps measured the
// same walk, but go-fuse has no setting for it.
const minProcs = readaheadWorkers

// raiseProcs makes GOMAXPROCS at least minProcs, unless the user chose a
// value in the environment.
func raiseProcs() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
}
