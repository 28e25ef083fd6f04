package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pattern is a file's contents that no prefix of another file matches.
func pattern(seed, size int) []byte {
	b := make([]byte, size)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The serving process is killed while copy-ups of large files are under
// way. Every entry must then be the intact link (stray bytes of the
// interrupted copy are ignored) or the complete copy, and read back as
// the template file after a remount.
func TestKillDuringCopyUps(t *testing.T) {
	const nfiles, size = 6, 48 << 20
	interrupted := 0
	for round := 0; round < 3; round++ {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			want := map[string][]byte{}
			lower := files{}
			for i := 0; i < nfiles; i++ {
				name := fmt.Sprintf("f%d", i)
				want[name] = pattern(round*100+i, size)
				lower[name] = string(want[name])
			}
			c := newCT(t, lower, nil)
			c.mount(t)

			var wg sync.WaitGroup
			for name := range want {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Fails once the server is gone; that is the point.
					if f, err := os.OpenFile(filepath.Join(c.mnt, name), os.O_RDWR, 0); err == nil {
						f.Close()
					}
				}()
			}
			inProgress := func() bool {
				for name := range want {
					p := filepath.Join(c.priv, name)
					var st unix.Stat_t
					if unix.Stat(p, &st) == nil && st.Size > 0 && isLinkQuiet(p) {
						return true
					}
				}
				return false
			}
			waitFor(t, "a copy-up in progress", 20*time.Second, inProgress)
			killServer(t, c.pid)
			wg.Wait()
			c.umount(t) // the dead mount: "transport endpoint is not connected"

			for name, data := range want {
				p := filepath.Join(c.priv, name)
				if isLink(t, p) {
					var st unix.Stat_t
					must(t, unix.Stat(p, &st))
					if st.Size > 0 {
						interrupted++
					}
					continue
				}
				if got := readBytes(t, p); !bytes.Equal(got, data) {
					t.Errorf("%s lost its link attribute but holds %d of %d bytes (torn copy)", name, len(got), len(data))
				}
			}
			c.mount(t)
			for name, data := range want {
				if got := readBytes(t, filepath.Join(c.mnt, name)); !bytes.Equal(got, data) {
					t.Errorf("%s reads %d bytes that differ from the template after the crash", name, len(got))
				}
				if got := readBytes(t, filepath.Join(c.tmpl, "pkg", name)); !bytes.Equal(got, data) {
					t.Errorf("template file %s changed", name)
				}
			}
			// A copy-up after the crash finishes the job.
			for name := range want {
				must(t, os.Truncate(filepath.Join(c.mnt, name), 10))
				if got := readBytes(t, filepath.Join(c.mnt, name)); !bytes.Equal(got, want[name][:10]) {
					t.Errorf("%s after truncate: %q", name, got)
				}
			}
		})
	}
	if interrupted == 0 {
		t.Error("no round caught a copy-up half done: the test did not exercise the crash")
	}
}

func isLinkQuiet(p string) bool {
	_, err := unix.Lgetxattr(p, "trusted.ezfs.link", nil)
	return err == nil
}

func readBytes(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}

// The serving process is killed while files are renamed back and forth
// through the mount: every file then has exactly one of its two names
// and its contents.
func TestKillDuringRenames(t *testing.T) {
	const nfiles = 200
	upper := files{}
	for i := 0; i < nfiles; i++ {
		upper[fmt.Sprintf("d/f%d", i)] = fmt.Sprint("content ", i)
	}
	c := newCT(t, nil, upper)
	c.mount(t)
	var renames atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; ; round++ {
				for i := w; i < nfiles; i += 4 {
					select {
					case <-stop:
						return
					default:
					}
					from, to := fmt.Sprintf("f%d", i), fmt.Sprintf("g%d", i)
					if round%2 == 1 {
						from, to = to, from
					}
					if os.Rename(filepath.Join(c.mnt, "d", from), filepath.Join(c.mnt, "d", to)) != nil {
						return // the server is gone
					}
					renames.Add(1)
				}
			}
		}()
	}
	waitFor(t, "renames under way", 20*time.Second, func() bool { return renames.Load() > 500 })
	killServer(t, c.pid)
	close(stop)
	wg.Wait()
	c.umount(t)
	c.mount(t)
	for i := 0; i < nfiles; i++ {
		f, errF := os.ReadFile(filepath.Join(c.mnt, "d", fmt.Sprintf("f%d", i)))
		g, errG := os.ReadFile(filepath.Join(c.mnt, "d", fmt.Sprintf("g%d", i)))
		switch {
		case errF == nil && errG == nil:
			t.Errorf("file %d has both names", i)
		case errF != nil && errG != nil:
			t.Errorf("file %d is lost: %v / %v", i, errF, errG)
		case errF == nil && string(f) != fmt.Sprint("content ", i), errG == nil && string(g) != fmt.Sprint("content ", i):
			t.Errorf("file %d has other contents", i)
		}
	}
	t.Logf("killed after %d renames", renames.Load())
}
