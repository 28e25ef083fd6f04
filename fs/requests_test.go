package fs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Requests per file of the workloads FUSE makes expensive: every request
// is a round trip to the daemon (about 30 µs on a small machine), so
// their number bounds the speed of extracting, chmod'ing and reading many
// small files. The bounds are those of this kernel and this daemon;
// docs/PERFORMANCE.md says what each request is. A change that brings a
// request back fails here.

const reqFiles = 200

// smallTar is a tar of reqFiles small files in 10 directories, owned by
// uid and gid 1000, as a package's files are.
func smallTar(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	hdr := func(h *tar.Header) {
		h.Uid, h.Gid, h.ModTime, h.Format = 1000, 1000, mtime, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	for d := 0; d < 10; d++ {
		hdr(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("x/d%d/", d), Mode: 0o755})
	}
	for i := 0; i < reqFiles; i++ {
		data := []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), 20))
		hdr(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("x/d%d/f%d", i%10, i), Mode: 0o644, Size: int64(len(data))})
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// opsDuring returns the requests the mount served while run ran.
func (w *world) opsDuring(t testing.TB, run func()) map[string]int64 {
	t.Helper()
	before := w.srv.Ops()
	run()
	after := w.srv.Ops()
	for k, v := range before {
		after[k] -= v
		if after[k] == 0 {
			delete(after, k)
		}
	}
	delete(after, "FORGET") // whenever the kernel gets to them
	return after
}

func perFile(ops map[string]int64) (float64, string) {
	var total int64
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ops)) {
		total += ops[k]
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(ops[k])/reqFiles))
	}
	return float64(total) / reqFiles, strings.Join(parts, ", ")
}

func runIn(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// TestRequestsPerFile extracts reqFiles small files with tar as root
// (owners, modes and times restored, as a package manager does), changes
// their modes with chmod -R, and reads every file twice, and bounds the
// requests each costs per file. Another process dropping the machine's
// caches (echo 2 > drop_caches) meanwhile makes the kernel look every
// name up again: a workload over its bounds is run again, up to 3 times.
func TestRequestsPerFile(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar")
	}
	w := newWorld(t, nil, nil)
	tarball := filepath.Join(t.TempDir(), "small.tar")
	if err := os.WriteFile(tarball, smallTar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := ""
	chmods := 0
	read := func() { runIn(t, tree, "sh", "-c", "find . -type f -print0 | xargs -0 cat >/dev/null") }
	// Bounds on the total and on the requests a regression would bring
	// back; the totals leave room for the ACL look-ups that the kernel
	// sometimes repeats (one GETXATTR per file, seen in a loaded run).
	cases := []struct {
		name  string
		run   func()
		max   float64            // see docs/PERFORMANCE.md, Requests per file
		opMax map[string]float64 // per file
	}{
		{"tar -x", func() {
			dir, err := os.MkdirTemp(w.mnt, "tar")
			if err != nil {
				t.Fatal(err)
			}
			tree = filepath.Join(dir, "x")
			runIn(t, dir, "tar", "-xf", tarball)
		}, 10.5, map[string]float64{"GETATTR": 1.1, "GETXATTR": 3.1, "SETATTR": 3.2}},
		{"chmod -R", func() {
			chmods++
			runIn(t, tree, "chmod", "-R", []string{"g-w", "g+w"}[chmods%2], ".")
		}, 1.4, map[string]float64{"SETATTR": 1.1, "GETATTR": 0.1}},
		{"read", read, 4.2, map[string]float64{"GETATTR": 1.1, "OPEN": 1, "RELEASE": 1}},
		{"read again", read, 4.2, map[string]float64{"GETATTR": 1.1, "OPEN": 1, "RELEASE": 1}},
	}
	over := func(ops map[string]int64, max float64, opMax map[string]float64) string {
		n, detail := perFile(ops)
		if n > max {
			return fmt.Sprintf("%.2f requests per file, want at most %.2f (%s)", n, max, detail)
		}
		for op, m := range opMax {
			if v := float64(ops[op]) / reqFiles; v > m {
				return fmt.Sprintf("%.2f %s per file, want at most %.2f (%s)", v, op, m, detail)
			}
		}
		return ""
	}
	for _, c := range cases {
		var fail string
		for try := 0; try < 3; try++ {
			ops := w.opsDuring(t, c.run)
			n, detail := perFile(ops)
			t.Logf("%s: %.2f requests per file (%s)", c.name, n, detail)
			if fail = over(ops, c.max, c.opMax); fail == "" {
				break
			}
		}
		if fail != "" {
			t.Errorf("%s: %s", c.name, fail)
		}
	}
}

// TestUntarTime times tar -x of 3,000 small files into the mount and
// into a plain directory on the same disk, alternately, and logs the
// medians; it runs only with EZFS_UNTAR_RUNS=N (the machine's load makes
// times a matter of a run, not of a test).
func TestUntarTime(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("EZFS_UNTAR_RUNS"))
	if runs <= 0 {
		t.Skip("set EZFS_UNTAR_RUNS=N to time tar -x")
	}
	w := newWorld(t, nil, nil)
	plain := t.TempDir()
	tarball := filepath.Join(t.TempDir(), "small.tar")
	if err := os.WriteFile(tarball, bigTar(t, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	timeIn := func(root string) time.Duration {
		dir, err := os.MkdirTemp(root, "tar")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		runIn(t, dir, "tar", "-xf", tarball)
		// Not removed between runs: ext4 without a journal makes the
		// next creates slow after deletions (docs/PERFORMANCE.md).
		return time.Since(start)
	}
	var ezfs, native []time.Duration
	for i := 0; i < runs; i++ {
		ezfs = append(ezfs, timeIn(w.mnt))
		native = append(native, timeIn(plain))
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	me, mn := median(ezfs), median(native)
	t.Logf("tar -x of 3000 files, median of %d: ezfs %v, plain directory %v, ratio %.2f", runs, me, mn, float64(mn)/float64(me))
}

// bigTar is smallTar's kind of tree with n files, 100 to a directory.
func bigTar(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("x/d%d/", i/100), Mode: 0o755, Uid: 1000, Gid: 1000, ModTime: mtime}); err != nil {
				t.Fatal(err)
			}
		}
		data := []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), 1+i%200))
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("x/d%d/f%d", i/100, i), Mode: 0o644, Size: int64(len(data)), Uid: 1000, Gid: 1000, ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRequestsPerWrite: writes to a file the kernel has seen without
// set-ID bits and capabilities cost no request (with passthrough); the
// kernel used to ask for security.capability before each one.
func TestRequestsPerWrite(t *testing.T) {
	w := newWorld(t, nil, nil)
	p := filepath.Join(w.mnt, "f")
	runIn(t, w.mnt, "dd", "if=/dev/zero", "of="+p, "bs=1k", "count=1")
	ops := w.opsDuring(t, func() {
		runIn(t, w.mnt, "dd", "if=/dev/zero", "of="+p, "bs=1k", "count=100", "conv=notrunc")
	})
	var total int64
	for _, n := range ops {
		total += n
	}
	t.Logf("100 writes: %v", ops)
	if w.srv.Passthrough() && total > 5 {
		t.Errorf("100 writes through one open cost %d requests (%v), want at most 5", total, ops)
	}
}
