package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// unblockFifo gives every open of the fifo at path that waits for a
// partner one, and returns a function that takes it away again: a test
// that finds the daemon stuck in such an open can still end.
func unblockFifo(t *testing.T, path string) func() {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Logf("unblock %s: %v", path, err)
		return func() {}
	}
	return func() { unix.Close(fd) }
}

// within runs f and fails the test if it has not returned in time; then
// it opens the fifo at unblock so that a daemon thread stuck in its open
// goes on, and waits for f.
func within(t *testing.T, what string, d time.Duration, unblock string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
		return
	case <-time.After(d):
	}
	t.Errorf("%s did not return within %v (a daemon thread waits in a fifo's open)", what, d)
	buf := make([]byte, 1<<20)
	t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	release := unblockFifo(t, unblock)
	defer release()
	<-done
}

// replaceBehind puts something else under name in the private tree, as a
// rename racing with an OPEN does.
func replaceBehind(t *testing.T, w *world, name, kind string) {
	t.Helper()
	p := filepath.Join(w.priv, name)
	tmp := p + ".new"
	var err error
	switch kind {
	case "fifo":
		err = unix.Mkfifo(tmp, 0o666)
	case "device":
		err = unix.Mknod(tmp, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))) // /dev/null
	case "file":
		err = os.WriteFile(tmp, []byte("another file\n"), 0o666)
	case "symlink":
		err = os.Symlink("/etc/passwd", tmp)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesWhatReplacedTheFile: an OPEN (or a truncate, or a
// copy-up) of a node whose name now leads elsewhere fails with ESTALE,
// at once, and touches nothing: no wait for a fifo's partner, no device
// opened, no other file written.
func TestOpenRefusesWhatReplacedTheFile(t *testing.T) {
	for _, kind := range []string{"fifo", "device", "file", "symlink"} {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, files{"l": "lower\n"}, files{"f": "mine\n"})
			for _, name := range []string{"f", "l"} {
				if _, err := os.Stat(filepath.Join(w.mnt, name)); err != nil {
					t.Fatal(err)
				}
			}
			root := w.srv.root.EmbeddedInode()
			fn := root.GetChild("f").Operations().(*fileNode)
			ln := root.GetChild("l").Operations().(*linkNode)
			replaceBehind(t, w, "f", kind)
			replaceBehind(t, w, "l", kind)
			fifo := filepath.Join(w.priv, "f")
			for _, flags := range []uint32{unix.O_RDONLY, unix.O_WRONLY, unix.O_WRONLY | unix.O_TRUNC} {
				var errno syscall.Errno
				within(t, "open", 5*time.Second, fifo, func() {
					var h any
					h, _, errno = fn.Open(context.Background(), flags)
					if errno == 0 {
						h.(*handle).Release(context.Background())
					}
				})
				if errno != syscall.ESTALE {
					t.Errorf("open(%#o) of a file replaced by a %s: errno %v, want ESTALE", flags, kind, errno)
				}
			}
			var errno syscall.Errno
			within(t, "truncate", 5*time.Second, fifo, func() {
				in := &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_SIZE}}
				errno = fn.Setattr(context.Background(), nil, in, &fuse.AttrOut{})
			})
			if errno != syscall.ESTALE {
				t.Errorf("truncate of a file replaced by a %s: errno %v, want ESTALE", kind, errno)
			}
			var err error
			within(t, "copy-up", 5*time.Second, filepath.Join(w.priv, "l"), func() { err = ln.copyUp(-1) })
			if !errors.Is(err, syscall.ESTALE) {
				t.Errorf("copy-up of a link entry replaced by a %s: %v, want ESTALE", kind, err)
			}
			if kind == "file" {
				for _, name := range []string{"f", "l"} {
					if got := readFile(t, filepath.Join(w.priv, name)); got != "another file\n" {
						t.Errorf("the file renamed over %s became %q", name, got)
					}
				}
			}
		})
	}
}

// TestOpenRacingFifoSwap is the attack of issue 14: a user swaps a file
// and a fifo under one name in a loop while others open the name. Every
// open must come back (with the file, the fifo or an error), none may
// leave a daemon thread waiting in the fifo's open.
//
// The attack runs in a process of its own, as it would: run in the
// daemon's process, its threads blocked in the mount's requests and the
// daemon's goroutines shared one Go runtime, and a collection waiting
// for both stalled the whole test now and then.
func TestOpenRacingFifoSwap(t *testing.T) {
	w := newWorld(t, nil, files{"f": "data\n"})
	if err := unix.Mkfifo(filepath.Join(w.mnt, "fifo"), 0o666); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFifoRaceChild$", "-test.v")
	cmd.Env = append(os.Environ(), "EZFS_FIFO_RACE_MNT="+w.mnt)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	within(t, "the openers", 60*time.Second, filepath.Join(w.priv, "fifo"), func() {
		if err := cmd.Wait(); err != nil {
			t.Errorf("the attack's process: %v", err)
		}
	})
	var opened, files int64
	for _, l := range strings.Split(out.String(), "\n") {
		if _, err := fmt.Sscanf(strings.TrimSpace(l), "RACE %d opens, %d of them the regular file", &opened, &files); err == nil {
			break
		}
	}
	t.Logf("%d opens, %d of them the regular file", opened, files)
	if files == 0 {
		t.Errorf("no open reached the regular file:\n%s", out.String())
	}
}

// TestFifoRaceChild is TestOpenRacingFifoSwap's attacking process.
func TestFifoRaceChild(t *testing.T) {
	mnt := os.Getenv("EZFS_FIFO_RACE_MNT")
	if mnt == "" {
		t.Skip("run by TestOpenRacingFifoSwap")
	}
	fifo := filepath.Join(mnt, "fifo")
	// Both ends held open through the mount: an open of the fifo by
	// the kernel for the openers below never waits either.
	hold, err := unix.Open(fifo, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(hold)

	f, tmp, tmpFifo := filepath.Join(mnt, "f"), filepath.Join(mnt, ".tmp"), filepath.Join(mnt, ".fifo")
	// The swapper makes a fixed number of swaps and the openers go on
	// until it is done: bounding the openers by count or time instead let
	// them finish before the swapper ran at all on one P (fifo opens are
	// the kernel's alone once the name is cached).
	var stop atomic.Bool
	var swapper, openers sync.WaitGroup
	swapper.Go(func() {
		defer stop.Store(true)
		for range 200 {
			if err := os.WriteFile(tmp, []byte("data\n"), 0o666); err == nil {
				os.Rename(tmp, f)
			}
			if err := os.Link(fifo, tmpFifo); err == nil {
				os.Rename(tmpFifo, f)
			}
		}
	})
	var opened, files atomic.Int64
	for i := range 4 {
		openers.Go(func() {
			flags := []int{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR, unix.O_WRONLY | unix.O_TRUNC}[i]
			for !stop.Load() {
				fd, err := unix.Open(f, flags|unix.O_CLOEXEC, 0)
				if err != nil {
					continue
				}
				opened.Add(1)
				var st unix.Stat_t
				if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
					files.Add(1)
				}
				unix.Close(fd)
				runtime.Gosched() // the swapper's turn, on one P too
			}
		})
	}
	swapper.Wait()
	openers.Wait()
	fmt.Printf("RACE %d opens, %d of them the regular file\n", opened.Load(), files.Load())
}

// TestOpenUnlinkedWhileHandlesClose: an open of an unlinked file goes
// through one of its open handles; the last one closing meanwhile is an
// error, not a panic (issue 14, finding 5).
func TestOpenUnlinkedWhileHandlesClose(t *testing.T) {
	w := newWorld(t, nil, files{"f": "data\n"})
	p := filepath.Join(w.mnt, "f")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	fn := w.srv.root.EmbeddedInode().GetChild("f").Operations().(*fileNode)
	fd, err := unix.Open(filepath.Join(w.priv, "f"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() { // handles opening and closing
		for !stop.Load() {
			dup, err := unix.Dup(fd)
			if err != nil {
				t.Error(err)
				return
			}
			h := newFileHandle(fn, dup, unix.O_RDONLY)
			for range 50 { // open about half of the time
				runtime.Gosched()
			}
			h.Release(context.Background())
			for range 50 {
				runtime.Gosched()
			}
		}
	})
	var ok, failed int
	for range 200000 {
		h, _, errno := fn.Open(context.Background(), unix.O_RDONLY)
		if errno != 0 {
			failed++
			continue
		}
		ok++
		h.(*handle).Release(context.Background())
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d opens through a handle, %d found none", ok, failed)
}

// TestChmodRefusesWhatReplacedTheFile: a chmod or chgrp the kernel
// allowed on one file does not land on another renamed over its name
// meanwhile.
func TestChmodRefusesWhatReplacedTheFile(t *testing.T) {
	w := newWorld(t, nil, files{"f": "mine\n"})
	if _, err := os.Stat(filepath.Join(w.mnt, "f")); err != nil {
		t.Fatal(err)
	}
	fn := w.srv.root.EmbeddedInode().GetChild("f").Operations().(*fileNode)
	replaceBehind(t, w, "f", "file")
	if err := os.Chmod(filepath.Join(w.priv, "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_MODE, Mode: 0o777}}
	if errno := fn.Setattr(context.Background(), nil, in, &fuse.AttrOut{}); errno != syscall.ESTALE {
		t.Errorf("chmod of a file replaced by another: errno %v, want ESTALE", errno)
	}
	in = &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{Valid: fuse.FATTR_GID, Owner: fuse.Owner{Gid: 4321}}}
	if errno := fn.Setattr(context.Background(), nil, in, &fuse.AttrOut{}); errno != syscall.ESTALE {
		t.Errorf("chgrp of a file replaced by another: errno %v, want ESTALE", errno)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(w.priv, "f"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o600 || st.Gid == 4321 {
		t.Errorf("the file renamed over f has mode %o, group %d", st.Mode&0o7777, st.Gid)
	}
}
