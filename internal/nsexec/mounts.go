package nsexec

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// enterRoot makes every mount of the new namespace private (so nothing
// below propagates to the host), and pivots into a bind mount of root,
// detaching the host's tree: from here on, paths (and the container's
// symlinks) resolve inside the container only.
func enterRoot(root string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mounts private: %w", err)
	}
	// Not recursive: mounts below the root on the host stay outside.
	if err := unix.Mount(root, root, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", root, err)
	}
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("enter %s: %w", root, err)
	}
	// pivot_root(".", "."): the old root ends up stacked on the new one
	// and is detached at once; no directory is needed for it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host's tree: %w", err)
	}
	return unix.Chdir("/")
}

type mnt struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
	mode                   os.FileMode // of the mount point, when it has to be made
}

const (
	nsd = unix.MS_NOSUID | unix.MS_NODEV
	nse = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
)

var systemMounts = []mnt{
	{"proc", "/proc", "proc", nse, "", 0o555},
	{"sysfs", "/sys", "sysfs", nse | unix.MS_RDONLY, "", 0o555},
	{"tmpfs", "/dev", "tmpfs", unix.MS_NOSUID | unix.MS_STRICTATIME, "mode=755,size=65536k", 0o755},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", 0o755},
	{"shm", "/dev/shm", "tmpfs", nse, "mode=1777,size=65536k", 0o755},
	{"mqueue", "/dev/mqueue", "mqueue", nse, "", 0o755},
}

// devices are the nodes of the minimal /dev, as on a console.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

var devLinks = [][2]string{
	{"pts/ptmx", "/dev/ptmx"}, {"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
}

// mountSystem mounts /proc, a read-only /sys and a minimal /dev inside
// the container (already its root). A missing mount point is made, as a
// fresh OS tree may lack it.
func mountSystem() error {
	for i, m := range systemMounts {
		if i == 3 { // /dev is there now: fill it before its submounts
			if err := makeDevices(); err != nil {
				return err
			}
		}
		if err := os.Mkdir(m.target, m.mode); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("make the mount point %s: %w", m.target, err)
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			if m.fstype == "mqueue" {
				continue // a kernel without POSIX message queues
			}
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

func makeDevices() error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devices {
		p := "/dev/" + d.name
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("make %s: %w", p, err)
		}
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[0], l[1]); err != nil {
			return fmt.Errorf("make %s: %w", l[1], err)
		}
	}
	return nil
}

// openPTY opens a pty of the container's own devpts, so that the command
// sees its terminal under /dev/pts like any login.
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/pts/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open a pty: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock the pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("number the pty: %w", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open the pty's terminal: %w", err)
	}
	return m, s, nil
}

// loopbackUp brings up lo of a new network namespace: "none" is no
// network, not a broken 127.0.0.1.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}
