package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// waitFor polls cond, which readahead workers make true in their own
// time, for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// forgetKernelCaches drops the kernel's dentries, inodes and pages,
// cached directory listings among them.
func forgetKernelCaches(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		t.Fatal(err)
	}
}

// privateIno is the inode number of rel in the private tree.
func privateIno(t *testing.T, w *world, rel string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(w.priv, rel), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// listRootCold lists the mount's root with the kernel's caches empty,
// which starts readahead of its subdirectories.
func listRootCold(t *testing.T, w *world) {
	t.Helper()
	forgetKernelCaches(t)
	if _, err := os.ReadDir(w.mnt); err != nil {
		t.Fatal(err)
	}
}

// TestPrefetchIsUsedAndNeverStale: readahead keeps what it read of a
// directory for the lookups that follow; a change through the mount
// drops it, and a plain file, which passthrough writes change without
// the daemon, is never kept.
func TestPrefetchIsUsedAndNeverStale(t *testing.T) {
	w := newWorld(t, files{"d/l": "lower\n"}, files{"d/f": "plain\n"})
	defer w.unmount(t)
	dIno := privateIno(t, w, "d")
	pre := &w.srv.t.pre
	listRoot := func() {
		listRootCold(t, w)
		waitFor(t, "readahead of d", func() bool { return pre.has(dIno, "l") })
	}

	listRoot()
	if pre.has(dIno, "f") {
		t.Error("a plain file was kept")
	}
	// A change through the mount drops what was read before it.
	if err := os.Chmod(filepath.Join(w.mnt, "d", "l"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pre.has(dIno, "l") {
		t.Error("kept after a chmod through the mount")
	}
	// Passthrough writes to the plain file; the daemon never sees them.
	f, err := os.OpenFile(filepath.Join(w.mnt, "d", "f"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Closed before the unmount even if the test fails: the mount is
	// served by this process.
	defer f.Close()
	listRoot()
	big := strings.Repeat("x", 1<<20)
	if _, err := f.WriteString(big); err != nil {
		t.Fatal(err)
	}
	f.Close()
	forgetKernelCaches(t)
	for name, want := range map[string]struct {
		mode uint32
		size int64
	}{"l": {0o600, 6}, "f": {0o644, int64(len("plain\n") + len(big))}} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(w.mnt, "d", name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o7777 != want.mode || st.Size != want.size {
			t.Errorf("d/%s: mode %o size %d, want %o %d", name, st.Mode&0o7777, st.Size, want.mode, want.size)
		}
	}
	if pre.has(dIno, "l") {
		t.Error("the lookup of d/l did not take what readahead kept")
	}
}

// TestPrefetchDropsWhatNobodyTakes: readahead of a directory the kernel
// never lists leaves nothing behind in an idle mount.
func TestPrefetchDropsWhatNobodyTakes(t *testing.T) {
	w := newWorld(t, files{"d/l": "lower\n", "d/e/l": "lower\n"}, nil)
	defer w.unmount(t)
	dIno := privateIno(t, w, "d")
	pre := &w.srv.t.pre
	listRootCold(t, w)
	waitFor(t, "readahead of d", func() bool { return pre.has(dIno, "l") })
	waitFor(t, "the kept results to be dropped", func() bool {
		pre.mu.Lock()
		defer pre.mu.Unlock()
		return len(pre.m) == 0 && len(pre.listings) == 0 && pre.listed == 0
	})
}

// TestPrefetchLargeDirectory: the entries of a directory larger than a
// readahead chunk are all read ahead, and the listing is answered from
// them with the right sizes.
func TestPrefetchLargeDirectory(t *testing.T) {
	lower := files{}
	for i := range 5*readaheadChunk + 3 {
		lower[fmt.Sprintf("d/f%03d", i)] = strings.Repeat("x", i)
	}
	w := newWorld(t, lower, nil)
	defer w.unmount(t)
	dIno := privateIno(t, w, "d")
	pre := &w.srv.t.pre
	listRootCold(t, w)
	waitFor(t, "readahead of every entry of d", func() bool {
		for name := range lower {
			if !pre.has(dIno, strings.TrimPrefix(name, "d/")) {
				return false
			}
		}
		return true
	})
	ents, err := os.ReadDir(filepath.Join(w.mnt, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(lower) {
		t.Fatalf("d lists %d entries, want %d", len(ents), len(lower))
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(lower["d/"+e.Name()])); info.Size() != want {
			t.Errorf("d/%s: size %d, want %d", e.Name(), info.Size(), want)
		}
		if pre.has(dIno, e.Name()) {
			t.Errorf("the listing of d did not take what readahead kept of %s", e.Name())
		}
	}
}

// TestPrefetchLetsGoOfItsTree: what nobody took goes with its sweep,
// maps and all, and a closed prefetch (its mount ended) keeps nothing
// and no timer, which would keep the mount's tree and template
// reachable after the mount.
func TestPrefetchLetsGoOfItsTree(t *testing.T) {
	var p prefetch
	p.put(1, "a", &prefetched{})
	p.putListing(1, []fuse.DirEntry{{Name: "a"}}, 0)
	p.mu.Lock()
	if p.sweep == nil {
		t.Fatal("nothing scheduled to sweep what was kept")
	}
	p.m[prefetchKey{1, "a"}].at = time.Now().Add(-time.Hour)
	l := p.listings[1]
	l.at = time.Now().Add(-time.Hour)
	p.listings[1] = l
	p.mu.Unlock()
	p.sweepOld()
	if p.m != nil || p.listings != nil || p.sweep != nil {
		t.Fatalf("swept empty, still holding maps %v %v or a timer", p.m, p.listings)
	}

	p.put(1, "a", &prefetched{epoch: p.epoch.Load()})
	p.close()
	if p.m != nil || p.sweep != nil {
		t.Fatal("closed, still holding results or a timer")
	}
	p.put(1, "b", &prefetched{epoch: p.epoch.Load()})
	p.putListing(2, []fuse.DirEntry{{Name: "b"}}, p.epoch.Load())
	if p.m != nil || p.listings != nil || p.sweep != nil {
		t.Fatal("closed, yet it kept what came after")
	}
}
