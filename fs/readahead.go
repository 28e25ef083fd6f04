package fs

import (
	"slices"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Directory readahead. The kernel lists a tree one directory at a time
// and waits for each READDIRPLUS; on a cold cache the daemon would then
// do its backing I/O one directory at a time too. When a directory is
// listed, workers warm its subdirectories meanwhile: their listings,
// their entries' inodes and link targets. What it reads of each entry
// waits for the lookup in the prefetch cache, which drops it if the tree
// changed meanwhile (prefetch.go). It costs nothing on a warm tree, where
// the kernel lists nothing.

const (
	readaheadDepth   = 1 // levels below a listed directory; more measured no faster
	readaheadWorkers = 8
	readaheadQueue   = 4096 // jobs beyond this drop the oldest
	// readaheadChunk is how many entries of one directory one goroutine
	// reads: a directory of 2,000 cold entries read one after the other
	// is still being read when the walk gets there. Chunks of 16 made
	// the bench's cold walk 3-5 % faster (three alternating runs against
	// no chunks); 8 to 64 measured about the same.
	readaheadChunk = 16
)

type readaheadJob struct {
	dirfd int // a dup of the parent's fd, owned by the job
	name  string
	depth int // levels still to go below this one
}

// readahead is a stack, not a queue: a walk goes depth first, so the
// directories listed last are the ones it enters next, while those of
// earlier listings wait for it to come back up.
type readahead struct {
	once    sync.Once
	mu      sync.Mutex
	more    *sync.Cond
	jobs    []readaheadJob
	stopped bool
}

func (t *tree) readaheadSubdirs(dirfd int, entries []fuse.DirEntry) {
	t.enqueueSubdirs(dirfd, entries, readaheadDepth-1)
}

func (t *tree) enqueueSubdirs(dirfd int, entries []fuse.DirEntry, depth int) {
	t.ra.once.Do(func() {
		t.ra.more = sync.NewCond(&t.ra.mu)
		for range readaheadWorkers {
			go t.readaheadWorker()
		}
	})
	// Pushed last to first, so that the first is taken first.
	for i := len(entries) - 1; i >= 0; i-- {
		e := &entries[i]
		if e.Mode != unix.S_IFDIR || e.Name == "." || e.Name == ".." {
			continue
		}
		fd, err := unix.FcntlInt(uintptr(dirfd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return
		}
		t.ra.mu.Lock()
		if t.ra.stopped {
			t.ra.mu.Unlock()
			closeFD(fd)
			return
		}
		if len(t.ra.jobs) >= readaheadQueue {
			closeFD(t.ra.jobs[0].dirfd)
			t.ra.jobs = t.ra.jobs[1:]
		}
		t.ra.jobs = append(t.ra.jobs, readaheadJob{dirfd: fd, name: e.Name, depth: depth})
		t.ra.mu.Unlock()
		t.ra.more.Signal()
	}
}

// next returns the newest job, waiting for one; false once stopped.
func (ra *readahead) next() (readaheadJob, bool) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for len(ra.jobs) == 0 && !ra.stopped {
		ra.more.Wait()
	}
	if ra.stopped {
		return readaheadJob{}, false
	}
	j := ra.jobs[len(ra.jobs)-1]
	ra.jobs = ra.jobs[:len(ra.jobs)-1]
	return j, true
}

func (t *tree) readaheadWorker() {
	buf := make([]byte, 32<<10)
	var entries []fuse.DirEntry
	for {
		job, ok := t.ra.next()
		if !ok {
			return
		}
		fd, err := openat(job.dirfd, job.name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		closeFD(job.dirfd)
		if err != nil {
			continue
		}
		// The epoch is read before anything of the directory is.
		epoch := t.pre.epoch.Load()
		var dst unix.Stat_t
		if statAt(fd, "", &dst) != nil {
			closeFD(fd)
			continue
		}
		entries = entries[:0]
		for {
			n, err := unix.Getdents(fd, buf)
			if err != nil || n == 0 {
				break
			}
			entries = parseDirents(buf[:n], entries)
		}
		t.pre.putListing(dst.Ino, slices.Clone(entries), epoch)
		t.prefetchSpread(fd, dst.Ino, entries)
		if job.depth > 0 {
			t.enqueueSubdirs(fd, entries, job.depth-1)
		}
		closeFD(fd)
	}
}

// prefetchSpread is prefetchEntries with a large directory's entries
// split among goroutines, so that their cold reads are in flight at once.
func (t *tree) prefetchSpread(dirfd int, dirIno uint64, entries []fuse.DirEntry) {
	if len(entries) <= readaheadChunk {
		t.prefetchEntries(dirfd, dirIno, entries)
		return
	}
	var wg sync.WaitGroup
	for part := range slices.Chunk(entries, readaheadChunk) {
		wg.Go(func() { t.prefetchEntries(dirfd, dirIno, part) })
	}
	wg.Wait()
}

func (t *tree) stopReadahead() {
	t.ra.once.Do(func() {})
	if t.ra.more == nil {
		return
	}
	t.ra.mu.Lock()
	t.ra.stopped = true
	for _, j := range t.ra.jobs {
		closeFD(j.dirfd)
	}
	t.ra.jobs = nil
	t.ra.mu.Unlock()
	t.ra.more.Broadcast()
}
