package btrfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
	"golang.org/x/sys/unix"
)

func open(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	tmpltest.Must(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func TestSubvolumes(t *testing.T) {
	mnt := testenv.Btrfs(t)
	fd := open(t, mnt)
	if !OnBtrfs(fd) {
		t.Fatal("not on btrfs")
	}
	tmpltest.Must(t, CreateSubvolume(fd, "vol"))
	tmpltest.Must(t, os.WriteFile(filepath.Join(mnt, "vol", "f"), []byte("x"), 0o644))
	if !IsSubvolume(fd, "vol") {
		t.Error("vol is no subvolume")
	}
	vol := open(t, filepath.Join(mnt, "vol"))
	tmpltest.Must(t, SetReadOnly(vol))
	if err := os.WriteFile(filepath.Join(mnt, "vol", "g"), nil, 0o644); err == nil {
		t.Error("wrote into a read-only subvolume")
	}
	tmpltest.Must(t, Snapshot(vol, fd, "snap"))
	if data, _ := os.ReadFile(filepath.Join(mnt, "snap", "f")); string(data) != "x" {
		t.Errorf("snapshot holds %q", data)
	}
	tmpltest.Must(t, os.WriteFile(filepath.Join(mnt, "snap", "g"), nil, 0o644)) // writable
	for _, bad := range []string{"", strings.Repeat("n", 5000)} {
		if CreateSubvolume(fd, bad) == nil || DeleteSubvolume(fd, bad) == nil || Snapshot(vol, fd, bad) == nil {
			t.Errorf("name of %d bytes accepted", len(bad))
		}
	}
	tmpltest.Must(t, os.MkdirAll(filepath.Join(mnt, "plain", "sub"), 0o755))
	for _, name := range []string{"snap", "plain", "missing"} {
		tmpltest.Must(t, RemoveTree(mnt, name))
		if _, err := os.Lstat(filepath.Join(mnt, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after RemoveTree: %v", name, err)
		}
	}
	tmpltest.Must(t, RemoveTree(filepath.Join(mnt, "nonexistent"), "x"))
}

// A container of a seeded template is a snapshot of the seed; a new
// cache gets a new seed, and the old one goes.
func TestSnapshotSeed(t *testing.T) {
	mnt := testenv.Btrfs(t)
	cache := filepath.Join(t.TempDir(), "demo.tar.gz")
	tree := t.TempDir()
	tmpltest.Must(t, os.MkdirAll(filepath.Join(tree, "root", "etc"), 0o755))
	tmpltest.Must(t, os.WriteFile(filepath.Join(tree, "root", "etc", "os-release"), []byte("demo\n"), 0o644))
	write := func() {
		f, err := os.Create(cache)
		tmpltest.Must(t, err)
		tmpltest.Must(t, archive.WriteTree(f, tree))
		tmpltest.Must(t, f.Close())
	}
	write()
	var steps []string
	step := func(format string, args ...any) { steps = append(steps, format) }
	for i, stage := range []string{".new-101-1", ".new-102-1"} {
		ok, err := SnapshotSeed("demo", cache, mnt, stage, step)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", stage, ok, err)
		}
		if data, _ := os.ReadFile(filepath.Join(mnt, stage, "root", "etc", "os-release")); string(data) != "demo\n" {
			t.Errorf("%s holds %q", stage, data)
		}
		if len(steps) != 1 {
			t.Errorf("after %d containers, %d seeds built", i+1, len(steps))
		}
	}
	seeds, _ := filepath.Glob(filepath.Join(mnt, ".seed-demo@*"))
	if len(seeds) != 1 {
		t.Fatalf("seeds %v", seeds)
	}
	write() // a rebuilt cache: another identity
	if ok, err := SnapshotSeed("demo", cache, mnt, ".new-103-1", step); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if now, _ := filepath.Glob(filepath.Join(mnt, ".seed-demo@*")); len(now) != 1 || now[0] == seeds[0] {
		t.Errorf("seeds after a rebuild: %v (before %v)", now, seeds)
	}
	DropSeeds(mnt, "demo", "")
	if now, _ := filepath.Glob(filepath.Join(mnt, ".seed-demo@*")); len(now) != 0 {
		t.Errorf("seeds after DropSeeds: %v", now)
	}
	// Not on btrfs: nothing made, the caller unpacks.
	plain := t.TempDir()
	if ok, err := SnapshotSeed("demo", cache, plain, ".new-104-1", step); ok || err != nil {
		t.Errorf("on a plain directory: %v %v", ok, err)
	}
	if _, err := SnapshotSeed("demo", filepath.Join(plain, "missing.tar.gz"), mnt, ".new-105-1", step); err == nil {
		t.Error("a missing cache seeded")
	}
	if processAlive("x") || !processAlive("1") {
		t.Error("processAlive")
	}
}
