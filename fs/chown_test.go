package fs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestChownNoChangeUpdatesCtime: chown(path, -1, -1) changes nothing but
// the ctime, on every kind of file, as on Linux filesystems (pjdfstest
// chown/00.t).
func TestChownNoChangeUpdatesCtime(t *testing.T) {
	w := newWorld(t, files{"link": "lower\n"}, files{"file": "mine\n", "dir/x": ""})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(unix.Mkfifo(filepath.Join(w.mnt, "fifo"), 0o644))
	must(os.Symlink("file", filepath.Join(w.mnt, "sym")))
	for _, name := range []string{"file", "dir", "link", "fifo", "sym"} {
		p := filepath.Join(w.mnt, name)
		var before, after unix.Stat_t
		must(unix.Lstat(p, &before))
		// The clock must have moved on past the old ctime.
		for c := time.Unix(before.Ctim.Unix()); time.Since(c) < 20*time.Millisecond; {
			time.Sleep(time.Millisecond)
		}
		must(unix.Lchown(p, -1, -1))
		must(unix.Lstat(p, &after))
		if after.Ctim == before.Ctim {
			t.Errorf("%s: ctime %v unchanged by chown(-1, -1)", name, time.Unix(after.Ctim.Unix()))
		}
		if after.Uid != before.Uid || after.Gid != before.Gid || after.Mode != before.Mode {
			t.Errorf("%s: chown(-1, -1) changed %d:%d %o to %d:%d %o", name, before.Uid, before.Gid, before.Mode, after.Uid, after.Gid, after.Mode)
		}
		// Setting no time at all changes nothing, ctime included.
		for c := time.Unix(after.Ctim.Unix()); time.Since(c) < 20*time.Millisecond; {
			time.Sleep(time.Millisecond)
		}
		omit := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p, omit, unix.AT_SYMLINK_NOFOLLOW))
		var again unix.Stat_t
		must(unix.Lstat(p, &again))
		if again.Ctim != after.Ctim {
			t.Errorf("%s: utimensat(UTIME_OMIT, UTIME_OMIT) moved the ctime", name)
		}
	}
}
