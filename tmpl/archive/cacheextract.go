package archive

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// ExtractCache unpacks a cache tarball into an empty private area
// directory: the container's root/ with its link entries, and
// templates/vzpackages. It returns once all of it is on disk, so a
// rename of the directory that follows cannot outlive its contents in a
// crash.
func ExtractCache(tarball, private string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("cache %s: %w", tarball, err)
	}
	fd, err := unix.Open(private, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// Each member leaves a few small objects behind and nothing of it
	// lives long: collecting every few MiB cost a tenth of the run. The
	// limit still bounds the heap of a huge cache.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(256 << 20))
	fl := newLogFlusher(fd)
	// tar reads a block at a time; the decompressor is faster filling
	// large buffers.
	_, err = Extract(bufio.NewReaderSize(zr, 256<<10), fd, Policy{Links: true, Devices: true, FIFOs: true, Owners: true, Xattrs: true,
		Parallel: true, MaxBytes: MaxPackageBytes, MaxFiles: 1 << 24, Progress: fl.poke})
	fl.stop()
	if err != nil {
		return fmt.Errorf("cache %s: %w", tarball, err)
	}
	// syncfs, not an fsync per file and directory: on every filesystem
	// it covers all of the tree, and the flusher has written most of it.
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("cache %s: sync: %w", tarball, err)
	}
	return nil
}

// logFlusher writes the filesystem's journal out while an extraction
// goes on: a journaling filesystem keeps the metadata of thousands of
// creates in memory, and one sync at the end would wait for all of it.
// Fsync of a directory that just got an entry forces the journal up to
// that entry on XFS and ext4, and leaves other files' data alone. A poke
// names that directory; pokes during a flush are merged.
type logFlusher struct {
	root int
	mu   sync.Mutex
	dir  string
	req  chan struct{}
	done sync.WaitGroup
}

func newLogFlusher(root int) *logFlusher {
	l := &logFlusher{root: root, req: make(chan struct{}, 1)}
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		for range l.req {
			l.mu.Lock()
			dir := l.dir
			l.mu.Unlock()
			// Errors are met again by the final sync.
			if fd, err := atfile.OpenBeneath(l.root, dir, unix.O_RDONLY|unix.O_DIRECTORY); err == nil {
				unix.Fsync(fd)
				unix.Close(fd)
			}
		}
	}()
	return l
}

// poke asks for a flush up to the last change in dir (relative to the
// root).
func (l *logFlusher) poke(dir string) {
	l.mu.Lock()
	l.dir = dir
	l.mu.Unlock()
	select {
	case l.req <- struct{}{}:
	default:
	}
}

func (l *logFlusher) stop() {
	close(l.req)
	l.done.Wait()
}
