package fs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMmapWriteTimes: writes through a shared mapping of a passthrough
// file move the backing file's mtime and ctime; stat through the mount
// shows them, as it shows the backing file's.
func TestMmapWriteTimes(t *testing.T) {
	w := newWorld(t, nil, files{"f": "0123456789abcdef"})
	p := filepath.Join(w.mnt, "f")
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	write := func(s string) {
		t.Helper()
		copy(m, s)
		if err := unix.Msync(m, unix.MS_SYNC); err != nil { // cleans the page: the next write faults
			t.Fatal(err)
		}
	}
	write("first write")
	// Old times, which the kernel caches from the reply.
	if err := unix.UtimesNano(p, []unix.Timespec{{Sec: 1000}, {Sec: 1000}}); err != nil {
		t.Fatal(err)
	}
	var got, back unix.Stat_t
	if err := unix.Stat(p, &got); err != nil {
		t.Fatal(err)
	}
	if got.Mtim.Sec != 1000 {
		t.Fatalf("mtime after utimes: %v", got.Mtim)
	}
	write("second write")
	if err := unix.Stat(filepath.Join(w.priv, "f"), &back); err != nil {
		t.Fatal(err)
	}
	if back.Mtim.Sec == 1000 {
		t.Skip("the backing filesystem did not move the mtime of a mapped write")
	}
	if err := unix.Stat(p, &got); err != nil {
		t.Fatal(err)
	}
	if got.Mtim != back.Mtim || got.Ctim != back.Ctim {
		t.Errorf("through the mount mtime %v ctime %v, backing file %v %v (passthrough %v)",
			got.Mtim, got.Ctim, back.Mtim, back.Ctim, w.srv.Passthrough())
	}
	if err := unix.Fstat(int(f.Fd()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Mtim != back.Mtim {
		t.Errorf("fstat through the mount: mtime %v, backing file %v", got.Mtim, back.Mtim)
	}
}
