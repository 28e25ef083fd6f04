// Command ezbench times ezfs against the same files on the native
// filesystem (and other targets) in one run and prints medians and
// ratios. It needs root and FUSE.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "ezbench: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "/var/tmp/ezbench", "work `DIR` (on a real disk filesystem; data is kept for later runs)")
	runs := flag.Int("runs", 5, "measured runs per workload, after one warm-up for warm workloads")
	quick := flag.Bool("quick", false, "smaller data and 3 runs")
	targetsFlag := flag.String("targets", "native,ezfs,ezfs-nopassthrough,overlay,fuse-overlayfs", "comma-separated `list` of targets")
	workloadsFlag := flag.String("workloads", "", "comma-separated `list` of workloads (default all; mountd-memory and density are the daemon-memory and container figures)")
	jsonOut := flag.String("json", "", "write every sample to `FILE`")
	svgOut := flag.String("svg", "", "draw the ratios to native as a bar chart in `FILE`")
	densityN := flag.Int("containers", 100, "containers for the density measurements (0: skip them)")
	scaleN := flag.Int("scale", 500, "mounts held at once for the scale measurement")
	densityBtrfs := flag.Bool("density-btrfs", true, "repeat the container measurements on a btrfs loop file in DIR, where containers are snapshots (needs mkfs.btrfs)")
	densityDir := flag.String("density-dir", "", "where the density measurements keep private areas (default: DIR/density; give a directory on another filesystem, e.g. XFS, to compare)")
	flag.Parse()
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (mounts, dropping caches)")
	}
	bigSize := int64(1 << 30)
	if *quick {
		bigSize, *runs = 256<<20, 3
		*densityN, *scaleN = 20, 100
	}
	self, _ := os.Executable()
	ezctl := filepath.Join(filepath.Dir(self), "ezctl")
	if _, err := os.Stat(ezctl); err != nil {
		return fmt.Errorf("ezctl not found beside ezbench (%s): run make build", ezctl)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	cleanDebris(ezctl, *dir)
	fmt.Printf("preparing data in %s ...\n", *dir)
	d, err := prepareData(*dir, bigSize, *quick)
	if err != nil {
		return err
	}
	fmt.Printf("data: %s, %d files, plus one %d MiB file; %d runs; %s, %d cores, %s\n",
		d.source, d.files, bigSize>>20, *runs, runtime.GOOS, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))

	all := map[string]target{
		"native":             &nativeTarget{d: d},
		"ezfs":               &ezfsTarget{d: d, ezctl: ezctl, passthrough: true},
		"ezfs-nopassthrough": &ezfsTarget{d: d, ezctl: ezctl},
		"overlay":            &overlayTarget{d: d},
	}
	if bin, err := exec.LookPath("fuse-overlayfs"); err == nil {
		all["fuse-overlayfs"] = &fuseOverlayTarget{d: d, bin: bin}
	}
	var targets []target
	for _, name := range strings.Split(*targetsFlag, ",") {
		t, ok := all[name]
		if !ok {
			if name == "fuse-overlayfs" {
				fmt.Println("note: fuse-overlayfs is not installed (make bench installs it with apt); skipping it")
				continue
			}
			return fmt.Errorf("unknown target %q (have native, ezfs, ezfs-nopassthrough, overlay, fuse-overlayfs)", name)
		}
		targets = append(targets, t)
	}
	closeAll := func() {
		for _, t := range targets {
			t.Close()
		}
	}
	defer closeAll()
	// Interrupted, still leave nothing mounted.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "ezbench: interrupted; unmounting")
		closeAll()
		cleanDebris(ezctl, *dir)
		os.Exit(1)
	}()
	var want []string
	if *workloadsFlag != "" {
		want = strings.Split(*workloadsFlag, ",")
	}
	var results []result
	for _, w := range workloads() {
		if want != nil && !slices.Contains(want, w.name) {
			continue
		}
		var ms []*measurer
		for _, t := range targets {
			if w.skip == nil || !w.skip(t) {
				ms = append(ms, &measurer{w: w, t: t, d: d})
			}
		}
		n := *runs
		if w.once {
			n = 1
		}
		// Run i of every target, then run i+1: a slow spell of this
		// machine's disk or host then falls on all of them, not on
		// whichever target was being measured.
		for i := 0; i < n; i++ {
			for _, m := range ms {
				m.sample()
			}
		}
		for _, m := range ms {
			r := m.result()
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "  %-16s %-20s %s\n", w.label(), m.t.Name(), format(r.median(), r.Unit))
		}
	}
	var memory []densityResult
	if slices.ContainsFunc(targets, func(t target) bool { return t.Name() == "ezfs" }) &&
		(want == nil || slices.Contains(want, "mountd-memory")) {
		if memory, err = memoryFigures(ezctl, d); err != nil {
			fmt.Fprintf(os.Stderr, "ezbench: mountd memory measurements failed: %v\n", err)
			memory = nil
		}
	}
	var dens, densBtrfs []densityResult
	ddir := *densityDir
	if ddir == "" {
		ddir = filepath.Join(*dir, "density")
	}
	if *densityN > 0 && slices.ContainsFunc(targets, func(t target) bool { return t.Name() == "ezfs" }) &&
		(want == nil || slices.Contains(want, "density")) {
		if dens, err = density(ezctl, d, ddir, *densityN, *scaleN); err != nil {
			fmt.Fprintf(os.Stderr, "ezbench: density measurements failed: %v\n", err)
			dens = nil
		}
		if fsType(ddir) != "btrfs" && *densityBtrfs {
			if densBtrfs, err = densityOnBtrfs(ezctl, d, *dir, *densityN); err != nil {
				fmt.Fprintf(os.Stderr, "ezbench: density measurements on btrfs failed: %v\n", err)
				densBtrfs = nil
			}
		}
	}
	fmt.Println()
	printTable(os.Stdout, results)
	printOps(os.Stdout, results)
	if memory != nil {
		printMemory(os.Stdout, memory)
	}
	if dens != nil {
		printDensity(os.Stdout, fsType(ddir), dens)
	}
	if densBtrfs != nil {
		printDensity(os.Stdout, "btrfs, a snapshot per container", densBtrfs)
	}
	if *svgOut != "" {
		if err := writeSVG(*svgOut, d.source, results, memoryLines(memory)); err != nil {
			return err
		}
	}
	if *jsonOut != "" {
		meta := map[string]any{"data": d.source, "files": d.files, "big_bytes": bigSize, "runs": *runs,
			"date": time.Now().UTC().Format(time.RFC3339), "cores": runtime.NumCPU()}
		return writeJSON(*jsonOut, meta, results, memory, dens, densBtrfs)
	}
	return nil
}

func serverPIDs(t target) []int {
	var pids []int
	for i := 0; i < 4; i++ {
		if p := t.ServerPID(i); p > 0 {
			pids = append(pids, p)
		}
	}
	return pids
}

// cleanDebris stops a mountd an interrupted run left, forgets what it
// would mount again, and detaches mounts below dir.
func cleanDebris(ezctl, dir string) {
	run := filepath.Join(dir, "run")
	for _, sock := range []string{filepath.Join(run, "mountd.sock"), filepath.Join(dir, "density", "run", "mountd.sock"), filepath.Join(dir, "memory", "run", "mountd.sock")} {
		e := &densityEnv{ezctl: ezctl, vz: dir, socket: sock}
		e.stop()
		os.Remove(filepath.Join(filepath.Dir(sock), "mounts.json"))
	}
	for _, m := range mountsBelow(dir) {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}
