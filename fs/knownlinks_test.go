package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rememberAll lets the test's fresh entries be remembered at once.
func rememberAll(t *testing.T) {
	old := knownMinAge
	knownMinAge = 0
	t.Cleanup(func() { knownMinAge = old })
}

func privateStat(t *testing.T, w *world, rel string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(w.priv, rel), &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// TestKnownLinksNeverStale: a remembered link value is used after the
// kernel forgot the entry, and never once the entry changed: relinked
// behind the mount, copied up through it, or after an Invalidate.
func TestKnownLinksNeverStale(t *testing.T) {
	rememberAll(t)
	w := newWorld(t, files{"a": "template a\n", "b": "template b\n"}, nil)
	makeLink(t, w.priv, "d/l", "pkg/a")
	era := func() uint64 { return w.srv.t.era.Load() }
	if got := readFile(t, filepath.Join(w.mnt, "d/l")); got != "template a\n" {
		t.Fatalf("d/l reads %q", got)
	}
	if lt, ok := known.lookup(era(), privateStat(t, w, "d/l")); !ok || lt.value != "pkg/a" {
		t.Fatalf("d/l not remembered after a lookup: %v %v", lt, ok)
	}

	// Relinked behind the mount, no Invalidate: the ctime moved.
	if err := unix.Lsetxattr(filepath.Join(w.priv, "d/l"), LinkAttr, []byte("pkg/b"), 0); err != nil {
		t.Fatal(err)
	}
	forgetKernelCaches(t)
	if got := readFile(t, filepath.Join(w.mnt, "d/l")); got != "template b\n" {
		t.Errorf("after a relink behind the mount d/l reads %q", got)
	}

	// Copied up (and emptied) through the mount: a plain empty file.
	if err := os.Truncate(filepath.Join(w.mnt, "d/l"), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := known.lookup(era(), privateStat(t, w, "d/l")); ok {
		t.Error("still remembered after its copy-up")
	}
	forgetKernelCaches(t)
	if got := readFile(t, filepath.Join(w.mnt, "d/l")); got != "" {
		t.Errorf("after truncating the copy d/l reads %q", got)
	}

	// Invalidate: nothing remembered before it is used after it.
	readFile(t, filepath.Join(w.mnt, "a"))
	st := privateStat(t, w, "a")
	if _, ok := known.lookup(era(), st); !ok {
		t.Fatal("a not remembered")
	}
	before := known.size()
	w.srv.Invalidate([]string{"a"})
	if _, ok := known.lookup(era(), st); ok {
		t.Error("remembered across an Invalidate")
	}
	if known.size() >= before {
		t.Errorf("%d values remembered before the Invalidate, %d after", before, known.size())
	}
	// The end of the mount forgets its values.
	readFile(t, filepath.Join(w.mnt, "a"))
	if known.size() == 0 {
		t.Fatal("a not remembered again")
	}
	w.unmount(t)
	if n := known.size(); n != 0 {
		t.Errorf("%d values remembered after the unmount", n)
	}
}

// A value is remembered only when the entry's ctime is old enough that
// a change cannot share its timestamp.
func TestKnownLinksSkipFreshEntries(t *testing.T) {
	w := newWorld(t, files{"a": "template a\n"}, nil)
	readFile(t, filepath.Join(w.mnt, "a"))
	if _, ok := known.lookup(w.srv.t.era.Load(), privateStat(t, w, "a")); ok {
		t.Error("an entry changed just now was remembered")
	}
}

func TestKnownLinksBounded(t *testing.T) {
	var k knownLinks
	old := time.Now().Add(-time.Hour)
	for i := range maxKnownLinks + 100 {
		st := unix.Stat_t{Ino: uint64(i), Ctim: unix.NsecToTimespec(old.UnixNano())}
		k.remember(1, &st, &linkTarget{value: fmt.Sprint(i)})
	}
	if n := k.size(); n > maxKnownLinks || n < maxKnownLinks*7/8 {
		t.Errorf("%d values remembered, want at most %d and most of them", n, maxKnownLinks)
	}
	st := unix.Stat_t{Ino: maxKnownLinks + 99, Ctim: unix.NsecToTimespec(old.UnixNano())}
	if lt, ok := k.lookup(1, &st); !ok || lt.value != fmt.Sprint(maxKnownLinks+99) {
		t.Errorf("the newest value: %v %v", lt, ok)
	}
	st.Ctim.Nsec++
	if _, ok := k.lookup(1, &st); ok {
		t.Error("used for another ctime")
	}
	if _, ok := k.lookup(2, &st); ok {
		t.Error("used in another era")
	}
}

// A link whose target is missing is not remembered: once the package
// is installed, the entry reads as its file.
func TestKnownLinksSkipDangling(t *testing.T) {
	rememberAll(t)
	w := newWorld(t, nil, nil)
	makeLink(t, w.priv, "later", "pkg2/later")
	if _, err := os.ReadFile(filepath.Join(w.mnt, "later")); err == nil {
		t.Fatal("a dangling link reads")
	}
	if _, ok := known.lookup(w.srv.t.era.Load(), privateStat(t, w, "later")); ok {
		t.Error("a dangling link was remembered")
	}
	writeFiles(t, filepath.Join(w.tmpl, "pkg2"), files{"later": "here now\n"})
	forgetKernelCaches(t)
	if got := readFile(t, filepath.Join(w.mnt, "later")); got != "here now\n" {
		t.Errorf("after its package came: %q", got)
	}
}

// TestKnownLinksShrinkAsErasGo: a Go map keeps its table when its keys
// go, so the remembered values of mounts that ended must not leave the
// table of their peak behind: none at all once the last era is dropped.
func TestKnownLinksShrinkAsErasGo(t *testing.T) {
	var k knownLinks
	lt := &linkTarget{value: "pkg/a"}
	old := func(ino uint64) *unix.Stat_t { return &unix.Stat_t{Ino: ino, Ctim: unix.Timespec{Sec: 1}} }
	for ino := uint64(1); ino <= 1000; ino++ {
		k.remember(1, old(ino), lt)
	}
	for ino := uint64(1); ino <= 100; ino++ {
		k.remember(2, old(ino), lt)
	}
	k.dropEra(1)
	if k.size() != 100 || len(k.eras) != 1 || k.eras[1] != nil {
		t.Fatalf("after era 1 went: %d values in %d eras; want 100 in 1", k.size(), len(k.eras))
	}
	if _, ok := k.lookup(2, old(7)); !ok {
		t.Fatal("era 2's values were lost with era 1")
	}
	k.dropEra(2)
	if k.eras != nil || k.size() != 0 {
		t.Fatalf("no era left, yet %d values or a map of eras are kept", k.size())
	}
}
