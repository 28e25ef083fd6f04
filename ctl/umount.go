package ctl

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

var umountCommand = &cli.Command{
	Name:      "umount",
	Usage:     "unmount an ezfs mount",
	ArgsUsage: "MOUNTPOINT",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "lazy", Usage: "detach now even if busy; the mount goes when its last user does"},
	},
	Action: runUmount,
}

func runUmount(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("umount: want one MOUNTPOINT, got %d arguments", c.NArg())
	}
	mnt, err := filepath.Abs(c.Args().First())
	if err != nil {
		return err
	}
	return unmount(mnt, c.Bool("lazy"))
}

func unmount(mnt string, lazy bool) error {
	m, mounted, err := mountinfo.Find(mnt)
	if err != nil {
		return err
	}
	if !mounted {
		return fmt.Errorf("umount: %s is not mounted", mnt)
	}
	if m.FSType != mountinfo.EzfsType {
		return fmt.Errorf("umount: %s is not an ezfs mount (it is %s); use umount(8)", mnt, m.FSType)
	}
	flags := 0
	if lazy {
		flags = unix.MNT_DETACH
	}
	err = unix.Unmount(mnt, flags)
	if err == unix.EBUSY {
		return fmt.Errorf("umount: %s is busy (%s); stop them, or detach it with: ezctl umount --lazy %s",
			mnt, describeHolders(holders(mnt)), mnt)
	}
	if err != nil {
		return fmt.Errorf("umount %s: %w", mnt, err)
	}
	return nil
}

// holder is a process using a mount: its cwd, root, executable, an open
// file or a mapping lies below the mountpoint.
type holder struct {
	pid  int
	comm string
}

func holders(mnt string) []holder {
	under := func(p string) bool { return p == mnt || strings.HasPrefix(p, mnt+"/") }
	procs, _ := os.ReadDir("/proc")
	var out []holder
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		if !usesMount(dir, under) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		out = append(out, holder{pid: pid, comm: strings.TrimSpace(string(comm))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

func usesMount(dir string, under func(string) bool) bool {
	for _, l := range []string{"cwd", "root", "exe"} {
		if p, err := os.Readlink(filepath.Join(dir, l)); err == nil && under(p) {
			return true
		}
	}
	fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
	for _, fd := range fds {
		if p, err := os.Readlink(filepath.Join(dir, "fd", fd.Name())); err == nil && under(p) {
			return true
		}
	}
	maps, _ := os.ReadFile(filepath.Join(dir, "maps"))
	for _, line := range strings.Split(string(maps), "\n") {
		if i := strings.Index(line, " /"); i >= 0 && under(strings.TrimSpace(line[i:])) {
			return true
		}
	}
	return false
}

func describeHolders(hs []holder) string {
	if len(hs) == 0 {
		return "held by no process found in /proc: a mount below it, or a file being closed"
	}
	parts := make([]string, 0, len(hs))
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("pid %d (%s)", h.pid, h.comm))
	}
	return "held by " + strings.Join(parts, ", ")
}
