package ctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/mountd"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

var umountCommand = &cli.Command{
	Name:      "umount",
	Usage:     "unmount a container or an ezfs mountpoint",
	ArgsUsage: "CTID | MOUNTPOINT",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "lazy", Usage: "detach now even if busy; the mount goes when its last user does"},
	},
	Action: runUmount,
}

// umountTarget reads the argument: a path (it has a "/" or names a
// mounted directory) or a container id.
func umountTarget(c *cli.Context) (string, error) {
	if err := needArgs(c, 1, "a CTID or a MOUNTPOINT"); err != nil {
		return "", err
	}
	arg := c.Args().First()
	if !strings.Contains(arg, "/") {
		if _, ok, _ := mountinfo.Find(mustAbs(arg)); !ok {
			if _, err := ctidArg(c); err != nil {
				return "", err
			}
			cfg, err := config(c)
			if err != nil {
				return "", err
			}
			return cfg.Root(arg), nil
		}
	}
	return mustAbs(arg), nil
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

func runUmount(c *cli.Context) error {
	mnt, err := umountTarget(c)
	if err != nil {
		return err
	}
	return unmount(c, mnt, c.Bool("lazy"))
}

// unmount asks mountd; a mount it does not serve (one served in the
// foreground, or a dead one) is unmounted here.
func unmount(c *cli.Context, mnt string, lazy bool) error {
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
	if os.Geteuid() == 0 {
		cl, err := daemon(c)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(c.Context, time.Minute)
		defer cancel()
		err = cl.Unmount(ctx, mnt, lazy)
		if err == nil {
			return nil
		}
		if !errors.Is(err, mountd.ErrNotMounted) {
			return fmt.Errorf("umount: %w", explain(err, mnt))
		}
	}
	flags := 0
	if lazy {
		flags = unix.MNT_DETACH
	}
	err = unix.Unmount(mnt, flags)
	if err == unix.EBUSY {
		return fmt.Errorf("umount: %s is busy (%s); stop them, or detach it with: ezctl umount --lazy %s",
			mnt, mountinfo.DescribeHolders(mountinfo.Holders(mnt)), mnt)
	}
	if err == unix.EINVAL {
		if _, still, _ := mountinfo.Find(mnt); !still {
			return nil // unmounted meanwhile: by a daemon that died answering, or by someone else
		}
	}
	if err != nil {
		return fmt.Errorf("umount %s: %w", mnt, err)
	}
	return nil
}
