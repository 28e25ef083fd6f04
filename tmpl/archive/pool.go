package archive

import (
	"fmt"
	"sync"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/internal/xattrat"
	"golang.org/x/sys/unix"
)

// createPool creates empty files on a few threads: a cache is mostly
// link entries, and their creation is nearly all system call time. Jobs
// travel in batches: one channel hand-off per file cost more than the
// file.
type createPool struct {
	jobs    []chan []createJob // one per worker
	batches [][]createJob
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
}

type createJob struct {
	dirfd  int
	name   string
	e      Entry
	xattrs map[string]string
}

const (
	createWorkers = 4
	createBatch   = 128
)

func newCreatePool() *createPool {
	p := &createPool{jobs: make([]chan []createJob, createWorkers), batches: make([][]createJob, createWorkers)}
	for w := range createWorkers {
		p.jobs[w] = make(chan []createJob, 2)
		go func() {
			for batch := range p.jobs[w] {
				for i := range batch {
					j := &batch[i]
					if err := createEmpty(j.dirfd, j.name, &j.e, j.xattrs); err != nil {
						p.mu.Lock()
						if p.err == nil {
							p.err = fmt.Errorf("extract %s: %w", j.e.Path, err)
						}
						p.mu.Unlock()
						break
					}
				}
				p.wg.Done()
			}
		}()
	}
	return p
}

// create queues a file; it is made by the time wait returns. The files
// of one directory go to one worker: creates in a directory take its
// lock (one shared queue measured about 10 ms slower per container).
func (p *createPool) create(dirfd int, name string, e Entry, xattrs map[string]string) {
	w := dirfd % createWorkers
	p.batches[w] = append(p.batches[w], createJob{dirfd, name, e, xattrs})
	if len(p.batches[w]) == createBatch {
		p.flush(w)
	}
}

func (p *createPool) flush(w int) {
	if len(p.batches[w]) == 0 {
		return
	}
	p.wg.Add(1)
	p.jobs[w] <- p.batches[w]
	p.batches[w] = make([]createJob, 0, createBatch)
}

func (p *createPool) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// wait returns when every queued file exists (the workers stay).
func (p *createPool) wait() error {
	for w := range createWorkers {
		p.flush(w)
	}
	p.wg.Wait()
	return p.failed()
}

// stop waits for the queued files and ends the workers.
func (p *createPool) stop() {
	p.wait()
	for _, c := range p.jobs {
		close(c)
	}
}

// createEmpty makes an empty regular file with its metadata, by name:
// no file is opened, which saves two system calls of the four a link
// entry would otherwise cost. The directory is the extraction's own, so
// the name cannot be swapped for a symlink in between.
func createEmpty(dirfd int, name string, e *Entry, xattrs map[string]string) error {
	owned := e.UID != 0 || e.GID != 0
	mode := e.Mode
	if owned {
		mode = 0o600 // until the owner is set: a chown clears set-id bits
	}
	if err := atfile.Mknodat(dirfd, name, unix.S_IFREG|mode, 0); err != nil {
		return err
	}
	e.SHA256 = emptySHA256
	if owned {
		if err := unix.Fchownat(dirfd, name, e.UID, e.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(dirfd, name, e.Mode, 0); err != nil {
			return err
		}
	}
	for k, v := range xattrs {
		if err := xattrat.Set(dirfd, name, k, []byte(v)); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	ts := []unix.Timespec{{Sec: e.Mtime}, {Sec: e.Mtime}}
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// parallelDo runs f(0..n-1), on createWorkers threads when parallel, and
// returns the first error.
func parallelDo(n int, parallel bool, f func(i int) error) error {
	if !parallel || n < 64 {
		for i := 0; i < n; i++ {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range createWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}
