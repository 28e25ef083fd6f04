package fs

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAtimeOptions: relatime, noatime, strictatime and ro, at mount
// and by `mount -o remount`, move the atimes a container sees as they
// would on a local filesystem, for its own files and for links.
func TestAtimeOptions(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) unix.Timespec { return unix.NsecToTimespec(now.Add(d).UnixNano()) }
	// A stale atime is older than the mtime; a recent one newer, and
	// than the ctime (which setting it moves to now), and less than a
	// day old.
	type times struct{ atime, mtime unix.Timespec }
	stale, recent := times{at(-72 * time.Hour), at(-time.Hour)}, times{at(time.Hour), at(-48 * time.Hour)}
	cases := []struct {
		name  string
		atime Atime
		ro    bool
		// Whether a read moves an atime older than the mtime, and one
		// newer than the mtime but less than a day old.
		movesStale, movesRecent bool
	}{
		{"relatime", Relatime, false, true, false},
		{"noatime", Noatime, false, false, false},
		{"strictatime", Strictatime, false, true, true},
		{"ro", Relatime, true, false, false},
	}
	check := func(t *testing.T, w *world, movesStale, movesRecent bool) {
		t.Helper()
		for _, name := range []string{"f", "l"} {
			p := filepath.Join(w.priv, name)
			for _, c := range []struct {
				times
				moves bool
			}{{stale, movesStale}, {recent, movesRecent}} {
				// Set behind the mount, then dropped from the kernel's
				// cache, as mountd does.
				if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{c.atime, c.mtime}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					t.Fatal(err)
				}
				w.srv.Invalidate([]string{name})
				readFile(t, filepath.Join(w.mnt, name))
				var st unix.Stat_t
				if err := unix.Stat(filepath.Join(w.mnt, name), &st); err != nil {
					t.Fatal(err)
				}
				if moved := st.Atim != c.atime; moved != c.moves {
					t.Errorf("%s: atime %v moved=%v by a read, want %v (was %v)", name, time.Unix(st.Atim.Unix()), moved, c.moves, time.Unix(c.atime.Unix()))
				}
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, files{"l": "lower\n"}, files{"f": "own\n"}, func(o *Options) {
				o.Atime, o.ReadOnly = c.atime, c.ro
			})
			check(t, w, c.movesStale, c.movesRecent)
		})
	}
	t.Run("remount", func(t *testing.T) {
		defer remountCheck.Store(remountCheck.Swap(int64(10 * time.Millisecond)))
		w := newWorld(t, files{"l": "lower\n"}, files{"f": "own\n"})
		for _, c := range []struct {
			opts                    string
			want                    Atime
			movesStale, movesRecent bool
		}{
			{"remount,noatime", Noatime, false, false},
			{"remount,strictatime", Strictatime, true, true},
			{"remount,relatime", Relatime, true, false},
			{"remount,ro", Noatime, false, false},
			{"remount,rw,strictatime", Strictatime, true, true},
		} {
			if out, err := exec.Command("mount", "-i", "-o", c.opts, w.mnt).CombinedOutput(); err != nil {
				t.Fatalf("mount -o %s: %v\n%s", c.opts, err, out)
			}
			waitFor(t, c.opts+" applied", func() bool { return Atime(w.srv.t.atime.Load()) == c.want })
			if c.opts == "remount,ro" {
				if err := os.WriteFile(filepath.Join(w.mnt, "new"), nil, 0o644); err == nil {
					t.Error("created a file on a read-only mount")
				}
			}
			check(t, w, c.movesStale, c.movesRecent)
		}
	})
}
