package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// workload measures one thing on one target. Time workloads return
// seconds (ratio: native time / target time, higher is better); size
// workloads return bytes (ratio: target / native, lower is better).
type workload struct {
	name string
	cold bool   // drop caches before every run
	unit string // "s" or "B"
	once bool   // a single run is the measurement
	run  func(t target, d *dataset) (float64, error)
}

func workloads() []workload {
	return []workload{
		{name: "walk", cold: true, unit: "s", run: timed(walk)},
		{name: "walk", unit: "s", run: timed(walk)},
		{name: "stream", cold: true, unit: "s", run: timed(stream)},
		{name: "stream", unit: "s", run: timed(stream)},
		{name: "pagecache-4", unit: "B", once: true, run: pageCache4},
	}
}

func (w workload) label() string {
	if w.unit == "B" || w.once {
		return w.name
	}
	if w.cold {
		return w.name + " cold"
	}
	return w.name + " warm"
}

func timed(f func(root string, d *dataset) error) func(target, *dataset) (float64, error) {
	return func(t target, d *dataset) (float64, error) {
		root, err := t.Open(0)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		if err := f(root, d); err != nil {
			return 0, err
		}
		return time.Since(start).Seconds(), nil
	}
}

// walk is find plus a stat of every entry.
func walk(root string, d *dataset) error {
	n := 0
	err := filepath.WalkDir(filepath.Join(root, filepath.Base(d.tree)), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, err := os.Lstat(p); err != nil {
			return err
		}
		n++
		return nil
	})
	if err == nil && n < d.files {
		err = fmt.Errorf("walk saw %d entries, want at least %d files", n, d.files)
	}
	return err
}

var streamBuf = make([]byte, 1<<20)

func stream(root string, d *dataset) error {
	f, err := os.Open(filepath.Join(root, filepath.Base(d.big)))
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, streamBuf)
	if err == nil && n != d.bigSize {
		err = fmt.Errorf("read %d of %d bytes", n, d.bigSize)
	}
	return err
}

// pageCache4 reads the large file through 4 containers and returns how
// much the page cache grew: shared template pages count once.
func pageCache4(t target, d *dataset) (float64, error) {
	var roots []string
	for i := 0; i < 4; i++ {
		r, err := t.Open(i)
		if err != nil {
			return 0, err
		}
		roots = append(roots, r)
	}
	if err := dropCaches(); err != nil {
		return 0, err
	}
	before, err := meminfo("Cached")
	if err != nil {
		return 0, err
	}
	for _, r := range roots {
		if err := stream(r, d); err != nil {
			return 0, err
		}
	}
	after, err := meminfo("Cached")
	return float64(after - before), err
}
