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
	readaheadQueue   = 4096 // jobs beyond this are dropped, not waited for
)

type readaheadJob struct {
	dirfd int // a dup of the parent's fd, owned by the job
	name  string
	depth int // levels still to go below this one
}

type readahead struct {
	once sync.Once
	jobs chan readaheadJob
}

func (t *tree) readaheadSubdirs(dirfd int, entries []fuse.DirEntry) {
	t.enqueueSubdirs(dirfd, entries, readaheadDepth-1)
}

func (t *tree) enqueueSubdirs(dirfd int, entries []fuse.DirEntry, depth int) {
	t.ra.once.Do(func() {
		t.ra.jobs = make(chan readaheadJob, readaheadQueue)
		for range readaheadWorkers {
			go t.readaheadWorker()
		}
	})
	for _, e := range entries {
		if e.Mode != unix.S_IFDIR || e.Name == "." || e.Name == ".." {
			continue
		}
		fd, err := unix.FcntlInt(uintptr(dirfd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return
		}
		select {
		case t.ra.jobs <- readaheadJob{dirfd: fd, name: e.Name, depth: depth}:
		default:
			closeFD(fd)
			return
		}
	}
}

func (t *tree) readaheadWorker() {
	buf := make([]byte, 32<<10)
	var entries []fuse.DirEntry
	for job := range t.ra.jobs {
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
		t.prefetchEntries(fd, dst.Ino, entries)
		if job.depth > 0 {
			t.enqueueSubdirs(fd, entries, job.depth-1)
		}
		closeFD(fd)
	}
}

func (t *tree) stopReadahead() {
	t.ra.once.Do(func() {})
	if t.ra.jobs != nil {
		close(t.ra.jobs)
	}
}
