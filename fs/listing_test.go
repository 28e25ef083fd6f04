package fs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// listNames returns the sorted names in dir.
func listNames(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// fsyncDir opens dir, fsyncs it and closes it again, as dpkg does.
func fsyncDir(t *testing.T, dir string) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		t.Fatal(err)
	}
}

// readOneEntry lists dir only as far as its first entry and stops, as a
// scandir that finds what it looks for does.
func readOneEntry(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadDir(1); err != nil {
		t.Fatal(err)
	}
}

// TestListingAfterDirFsync is the dpkg failure of issue 15: a directory
// fsync, then changes, then a listing must show the changes.
func TestListingAfterDirFsync(t *testing.T) {
	w := newWorld(t, nil, nil)
	u := filepath.Join(w.mnt, "tmp/u")
	if err := os.MkdirAll(u, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, u, files{"a": ""})
	fsyncDir(t, u)
	if err := os.Remove(filepath.Join(u, "a")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, u, files{"b": ""})
	if got := listNames(t, u); got != "b" {
		t.Errorf("listing after fsync, unlink a, create b = %q, want \"b\"", got)
	}
}

// TestListingAfterPartialRead is issue 16 item 7: a listing read only as
// far as one entry, a change, and a new listing from the start.
func TestListingAfterPartialRead(t *testing.T) {
	w := newWorld(t, files{"d/l1": "x", "d/l2": "y"}, files{"d/p": "z"})
	d := filepath.Join(w.mnt, "d")
	readOneEntry(t, d)
	writeFiles(t, d, files{"new": ""})
	if got := listNames(t, d); got != "l1,l2,new,p" {
		t.Errorf("listing after a partial one and a create = %q, want l1,l2,new,p", got)
	}
	readOneEntry(t, d)
	if err := os.Remove(filepath.Join(d, "l1")); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, d); got != "l2,new,p" {
		t.Errorf("listing after a partial one and an unlink = %q, want l2,new,p", got)
	}
	// The same once more with the kernel's caches dropped in between:
	// the kernel lists again from the daemon, not from its page cache.
	readOneEntry(t, d)
	forgetKernelCaches(t)
	if err := os.Rename(filepath.Join(d, "p"), filepath.Join(w.mnt, "p")); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, d); got != "l2,new" {
		t.Errorf("listing after a partial one and a rename away = %q, want l2,new", got)
	}
}

// makeEntries fills dir with n files whose names take several
// READDIRPLUS replies, and returns their names.
func makeEntries(t *testing.T, dir string, n int) map[string]bool {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for i := range n {
		name := strings.Repeat("n", 40) + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		writeFiles(t, dir, files{name: ""})
		names[name] = true
	}
	return names
}

// continueListing starts a listing of dir, removes its first entry and
// adds one, lets starts() begin other listings, and reads the first
// listing to its end: every entry not changed must be in it once.
func continueListing(t *testing.T, dir string, want map[string]bool, starts func()) {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]int{}
	first, err := f.ReadDir(20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range first {
		seen[e.Name()]++
	}
	writeFiles(t, dir, files{"zz-new": ""})
	if err := os.Remove(filepath.Join(dir, first[0].Name())); err != nil {
		t.Fatal(err)
	}
	starts()
	rest, err := f.ReadDir(-1)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rest {
		seen[e.Name()]++
	}
	for name := range want {
		if name != first[0].Name() && seen[name] != 1 {
			t.Errorf("%s seen %d times in one listing", name, seen[name])
		}
	}
}

// TestConcurrentListingsKeepTheirOwnSnapshot: a listing that starts anew
// leaves one in progress on the same directory reading its own entries,
// each exactly once.
func TestConcurrentListingsKeepTheirOwnSnapshot(t *testing.T) {
	w := newWorld(t, nil, nil)
	d := filepath.Join(w.mnt, "d")
	want := makeEntries(t, d, 300)
	continueListing(t, d, want, func() { readOneEntry(t, d) })
}

// TestListingContinuesAfterItsStreamIsGone: a listing whose stream the
// daemon has dropped (too many listings started since) continues on a
// new read of the directory at the same place, by the backing
// filesystem's offsets: no unchanged entry is skipped or repeated.
func TestListingContinuesAfterItsStreamIsGone(t *testing.T) {
	w := newWorld(t, nil, nil)
	d := filepath.Join(w.mnt, "d")
	want := makeEntries(t, d, 300)
	continueListing(t, d, want, func() {
		for range maxNodeStreams + 1 {
			readOneEntry(t, d)
		}
	})
}

// TestSeekdirToRemovedEntry: a listing that goes on in a fresh handle
// from the offset of an entry since removed continues where the backing
// filesystem says, with the entry after it (ext4's offsets are hashes,
// tmpfs lists newest first).
func TestSeekdirToRemovedEntry(t *testing.T) {
	bases := []string{t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		bases = append(bases, "/dev/shm")
	}
	for _, base := range bases {
		dir, err := os.MkdirTemp(base, "seekdir")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		for i := range 50 {
			writeFiles(t, dir, files{strings.Repeat("n", 30) + string(rune('a'+i%26)) + strings.Repeat("x", i/26): ""})
		}
		open := func() *dirHandle {
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(fd) })
			entries, err := readDirents(fd, 0)
			if err != nil {
				t.Fatal(err)
			}
			return &dirHandle{fd: fd, entries: entries}
		}
		old := open()
		k := len(old.entries) / 2
		if err := os.Remove(filepath.Join(dir, old.entries[k+1].Name)); err != nil {
			t.Fatal(err)
		}
		h := open()
		if errno := h.Seekdir(context.Background(), old.entries[k].Off); errno != 0 {
			t.Fatal(errno)
		}
		e, _ := h.Readdirent(context.Background())
		if e == nil || e.Name != old.entries[k+2].Name {
			t.Errorf("%s: after %s and the removed %s, the listing goes on with %v, want %s", base, old.entries[k].Name, old.entries[k+1].Name, e, old.entries[k+2].Name)
		}
	}
}
