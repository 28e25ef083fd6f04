package main

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// workload measures one thing on one target. Time workloads return
// seconds (ratio: native time / target time, higher is better); size
// workloads return bytes (ratio: target / native, lower is better).
type workload struct {
	name  string
	cold  bool   // drop caches before every run
	unit  string // "s" or "B"
	once  bool   // a single run is the measurement
	fresh bool   // rebuild the container before every run
	run   func(t target, d *dataset, i int) (float64, error)
	skip  func(t target) bool // targets the workload does not apply to
}

func workloads() []workload {
	noDaemon := func(t target) bool {
		return t.ServerPID(0) == 0 && t.Name() != "ezfs" && t.Name() != "ezfs-nopassthrough" && t.Name() != "fuse-overlayfs"
	}
	return []workload{
		{name: "walk", cold: true, unit: "s", run: timed(walk)},
		{name: "walk", unit: "s", run: timed(walk)},
		{name: "read-all", cold: true, unit: "s", run: timed(readAll)},
		{name: "read-all", unit: "s", run: timed(readAll)},
		{name: "stream", cold: true, unit: "s", run: timed(stream)},
		{name: "stream", unit: "s", run: timed(stream)},
		{name: "random-4k", cold: true, unit: "s", run: timed(random4k)},
		{name: "random-4k", unit: "s", run: timed(random4k)},
		{name: "untar", unit: "s", run: untar},
		{name: "first-write", unit: "s", run: firstWrite},
		{name: "chmod-R", unit: "s", fresh: true, run: timed(chmodR)},
		{name: "chmod-R-copied", unit: "B", once: true, fresh: true, run: chmodCopied},
		{name: "pagecache-4", unit: "B", once: true, run: pageCache4},
		{name: "daemon-rss", unit: "B", once: true, run: daemonRSS, skip: noDaemon},
	}
}

func (w workload) label() string {
	if w.unit == "B" || w.once || w.name == "untar" || w.name == "first-write" || w.name == "chmod-R" {
		return w.name
	}
	if w.cold {
		return w.name + " cold"
	}
	return w.name + " warm"
}

func timed(f func(root string, d *dataset) error) func(target, *dataset, int) (float64, error) {
	return func(t target, d *dataset, _ int) (float64, error) {
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

func treeRoot(root string, d *dataset) string { return filepath.Join(root, filepath.Base(d.tree)) }

// walk is find plus a stat of every entry.
func walk(root string, d *dataset) error {
	n := 0
	err := filepath.WalkDir(treeRoot(root, d), func(p string, e fs.DirEntry, err error) error {
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

var readBuf = make([]byte, 1<<20)

// readFile reads the file at p to its end.
func readFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = readThrough(f)
	return err
}

// readThrough reads r to its end in reads of 1 MiB, as cp or dd would.
// (io.Copy to io.Discard reads 8 KiB at a time, whatever buffer it is
// given: 131,072 system calls per GiB measure the calls, not the reads.)
func readThrough(r io.Reader) (int64, error) {
	var total int64
	for {
		n, err := r.Read(readBuf)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// readAll opens, reads and closes every regular file of the tree.
func readAll(root string, d *dataset) error {
	var total int64
	err := filepath.WalkDir(treeRoot(root, d), func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		n, err := readThrough(f)
		f.Close()
		total += n
		return err
	})
	if err == nil && total != d.bytes {
		err = fmt.Errorf("read %d bytes, the tree has %d", total, d.bytes)
	}
	return err
}

func stream(root string, d *dataset) error {
	f, err := os.Open(filepath.Join(root, filepath.Base(d.big)))
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := readThrough(f)
	if err == nil && n != d.bigSize {
		err = fmt.Errorf("read %d of %d bytes", n, d.bigSize)
	}
	return err
}

// random4k reads 4 KiB blocks at random offsets of the large file; warm,
// the file is in the page cache (the warm-up read it).
func random4k(root string, d *dataset) error {
	f, err := os.Open(filepath.Join(root, filepath.Base(d.big)))
	if err != nil {
		return err
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4096)
	blocks := d.bigSize / 4096
	n := 20000
	if d.bigSize < 1<<30 {
		n = 5000
	}
	for i := 0; i < n; i++ {
		if _, err := f.ReadAt(buf, r.Int64N(blocks)*4096); err != nil {
			return err
		}
	}
	return nil
}

// untar extracts a tarball of many small files into a new directory of
// the container, with tar(1).
func untar(t target, d *dataset, run int) (float64, error) {
	root, err := t.Open(0)
	if err != nil {
		return 0, err
	}
	dst := filepath.Join(root, fmt.Sprintf("untar-%d-%d", os.Getpid(), run))
	if err := os.Mkdir(dst, 0o755); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dst)
	start := time.Now()
	if out, err := exec.Command("tar", "-xf", d.small, "-C", dst).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("tar: %v %s", err, out)
	}
	return time.Since(start).Seconds(), nil
}

// firstWrite opens a 100 MiB template file for writing and writes one
// byte: on ezfs and the overlays, the copy-up.
func firstWrite(t target, d *dataset, run int) (float64, error) {
	root, err := t.Open(0)
	if err != nil {
		return 0, err
	}
	if run >= d.copyups {
		return 0, fmt.Errorf("more runs than copy-up files (%d)", d.copyups)
	}
	p := filepath.Join(root, "copyup", fmt.Sprintf("big-%d", run))
	// The copy is measured from the page cache, as after any recent use
	// of the file, not from this machine's disk, whose host also drops
	// cached pages within seconds. (The copy-up files are hard links of
	// one file.)
	if err := readFile(filepath.Join(d.template, pkgDir, "copyup", "big-0")); err != nil {
		return 0, err
	}
	start := time.Now()
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	if _, err := f.WriteAt([]byte{'x'}, 0); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

// chmodR changes the mode of every entry of the tree.
func chmodR(root string, d *dataset) error {
	return filepath.WalkDir(treeRoot(root, d), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.Type()&fs.ModeSymlink != 0 {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		return os.Chmod(p, info.Mode().Perm()^0o004) // flip o+r
	})
}

// chmodCopied is how many bytes a chmod -R made the target copy.
func chmodCopied(t target, d *dataset, _ int) (float64, error) {
	root, err := t.Fresh(0)
	if err != nil {
		return 0, err
	}
	before := diskUsage(t)
	if err := chmodR(root, d); err != nil {
		return 0, err
	}
	return float64(diskUsage(t) - before), nil
}

// pageCache4 reads the large file through 4 containers and returns how
// much the page cache grew: shared template pages count once.
func pageCache4(t target, d *dataset, _ int) (float64, error) {
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

// daemonRSS is the serving process's memory after a walk of the tree.
func daemonRSS(t target, d *dataset, _ int) (float64, error) {
	root, err := t.Open(0)
	if err != nil {
		return 0, err
	}
	if err := walk(root, d); err != nil {
		return 0, err
	}
	pid := t.ServerPID(0)
	if pid == 0 {
		return 0, fmt.Errorf("no serving process")
	}
	n, err := rss(pid)
	return float64(n), err
}

// diskUsage is the disk the target's writable layer of instance 0 takes.
func diskUsage(t target) int64 {
	dir := t.Upper(0)
	if dir == "" {
		return 0
	}
	var n int64
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := e.Info(); err == nil {
			n += info.Sys().(*syscall.Stat_t).Blocks * 512
		}
		return nil
	})
	return n
}
