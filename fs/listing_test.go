package fs

import (
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

// TestConcurrentListingsKeepTheirOwnSnapshot: a listing that starts anew
// leaves one in progress on the same directory reading its own entries,
// each exactly once.
func TestConcurrentListingsKeepTheirOwnSnapshot(t *testing.T) {
	w := newWorld(t, nil, nil)
	d := filepath.Join(w.mnt, "d")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range 300 { // several READDIRPLUS replies
		name := strings.Repeat("n", 40) + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		writeFiles(t, d, files{name: ""})
		want[name] = true
	}
	f, err := os.Open(d)
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
	// Another listing from the start, and a change that the first
	// listing may or may not show: entries not changed appear once.
	writeFiles(t, d, files{"zz-new": ""})
	if err := os.Remove(filepath.Join(d, first[0].Name())); err != nil {
		t.Fatal(err)
	}
	readOneEntry(t, d)
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
