package fs

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/internal/mountinfo"
	"golang.org/x/sys/unix"
)

// Atime is how reads move access times, as mount(8)'s options say.
type Atime int32

const (
	Relatime    Atime = iota // the default: on the first read after a change, and daily
	Noatime                  // never
	Strictatime              // on every read
)

// The kernel does not update atimes of FUSE files itself, and with
// passthrough it reads the backing file, whose mount decides. So the
// daemon reaches the private tree through a clone of its mount of its
// own (open_tree), and gives the clone the atime setting of the FUSE
// mount: reads, passthrough or not, and listings then move backing
// atimes exactly as a local filesystem mounted that way would. A
// read-only mount moves none. The setting follows remounts: a watcher
// reads /proc/self/mountinfo whenever the mount table changes.

// openPrivate opens the private tree through a clone of its mount; where
// that is not possible (no CAP_SYS_ADMIN) it opens the tree itself, and
// atimes are then the backing mount's.
func openPrivate(path string, logger *slog.Logger) (fd int, cloned bool, err error) {
	fd, err = unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err == nil {
		return fd, true, nil
	}
	logger.Warn("private tree: cannot clone its mount; atimes follow the backing mount's options", "path", path, "err", err)
	fd, err = atfile.OpenDirPath(path)
	return fd, false, err
}

// setAtime gives the private tree's clone the atime setting a.
func (t *tree) setAtime(a Atime) error {
	if !t.privCloned || Atime(t.atime.Swap(int32(a))) == a {
		return nil
	}
	attr := unix.MountAttr{Attr_clr: unix.MOUNT_ATTR__ATIME}
	switch a {
	case Noatime:
		attr.Attr_set = unix.MOUNT_ATTR_NOATIME
	case Strictatime:
		attr.Attr_set = unix.MOUNT_ATTR_STRICTATIME
	default:
		attr.Attr_set = unix.MOUNT_ATTR_RELATIME
	}
	return unix.MountSetattr(t.privRoot, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
}

// atimeOf is the atime setting a mountinfo line's options ask for.
func atimeOf(m mountinfo.Mount) Atime {
	has := func(opts, o string) bool {
		for _, x := range strings.Split(opts, ",") {
			if x == o {
				return true
			}
		}
		return false
	}
	switch {
	case has(m.Options, "ro") || has(m.SuperOptions, "ro"):
		return Noatime
	case has(m.Options, "noatime"):
		return Noatime
	case has(m.Options, "relatime"):
		return Relatime
	}
	return Strictatime
}

// mountWatch follows the options of ezfs mounts of this process.
var mountWatch struct {
	mu      sync.Mutex
	mounts  map[int]*tree // by mount ID
	started bool
}

// watchMount starts following the options of the mount with ID id.
func watchMount(id int, t *tree) {
	mountWatch.mu.Lock()
	defer mountWatch.mu.Unlock()
	if mountWatch.mounts == nil {
		mountWatch.mounts = map[int]*tree{}
	}
	mountWatch.mounts[id] = t
	if !mountWatch.started {
		// Opened before the first sync: a change after that sync is
		// an event for this file.
		f, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			t.log.Error("cannot follow remounts; atime options stay as mounted", "err", err)
		} else {
			mountWatch.started = true
			go followMounts(f)
		}
	}
	syncMountsLocked()
}

func unwatchMount(id int) {
	mountWatch.mu.Lock()
	defer mountWatch.mu.Unlock()
	delete(mountWatch.mounts, id)
}

// remountCheck is how often followMounts reads the mount table when
// it signals no change: the kernel signals mounts and unmounts, but not
// every remount (a change of a mount's flags alone).
var remountCheck atomic.Int64

func init() { remountCheck.Store(int64(time.Second)) }

// followMounts waits for changes of the mount table (mountinfo polls
// with POLLPRI), or remountCheck, and applies the watched mounts'
// options. One goroutine per process while any mount is watched, so it
// logs to the default logger.
func followMounts(f *os.File) {
	defer f.Close()
	for {
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}}
		if _, err := unix.Poll(fds, int(time.Duration(remountCheck.Load()).Milliseconds())); err != nil && err != unix.EINTR {
			slog.Error("cannot follow remounts; atime options stay as they are", "err", err)
			mountWatch.mu.Lock()
			mountWatch.started = false
			mountWatch.mu.Unlock()
			return
		}
		mountWatch.mu.Lock()
		if len(mountWatch.mounts) == 0 {
			// The last mount ended; the next one starts another.
			mountWatch.started = false
			mountWatch.mu.Unlock()
			return
		}
		syncMountsLocked()
		mountWatch.mu.Unlock()
	}
}

func syncMountsLocked() {
	if len(mountWatch.mounts) == 0 {
		return
	}
	all, err := mountinfo.All()
	if err != nil {
		return
	}
	for _, m := range all {
		if t, ok := mountWatch.mounts[m.ID]; ok {
			if err := t.setAtime(atimeOf(m)); err != nil {
				t.log.Error("cannot apply the mount's atime option to the private tree", "err", err)
			}
		}
	}
}

// mountID is the ID of the mount at path.
func mountID(path string) (int, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_STATX_DONT_SYNC, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, err
	}
	return int(stx.Mnt_id), nil
}

// relatimeDay is how long relatime leaves an atime alone.
const relatimeDay = 24 * time.Hour

// touchAtime moves a link entry's atime as a read of it would: reads of
// a link go to the template file, on a read-only mount. Reading the
// empty entry through the clone lets the kernel apply the setting
// (relatime's rules included) without changing the ctime, as utimensat
// would. It is done when a link is opened for reading, not at its first
// read; under relatime at most once a day per node unless the entry
// changed meanwhile.
func (l *linkNode) touchAtime(dirfd int, name string) {
	a := Atime(l.t.atime.Load())
	if a == Noatime || !l.t.privCloned {
		return
	}
	now := time.Now().UnixNano()
	if last := l.touched.Load(); a == Relatime && last != 0 && now-last < int64(relatimeDay) {
		return
	}
	// Only if the name still leads to the entry: a device node or fifo
	// the container renamed over it is never opened by the daemon.
	fd, err := l.openPrivate(dirfd, name, unix.O_RDONLY)
	if err != nil {
		return
	}
	var b [1]byte
	retryEINTR(func() (int, error) { return unix.Read(fd, b[:]) })
	closeFD(fd)
	l.touched.Store(now)
}
