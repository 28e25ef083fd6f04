package ctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/mountd"
	"github.com/urfave/cli/v2"
)

var mountdCommand = &cli.Command{
	Name:  "mountd",
	Usage: "run the mount daemon in the foreground (ezctl starts it when needed)",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "debug", Usage: "debug logging"},
	},
	Action: runMountd,
	Subcommands: []*cli.Command{
		{Name: "status", Usage: "what mountd serves", Action: runMountdStatus,
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}}},
	},
}

func socketPath(c *cli.Context) string {
	if s := c.String("socket"); s != "" {
		return s
	}
	return mountd.DefaultSocket
}

func runMountd(c *cli.Context) error {
	if err := requireRoot("mountd"); err != nil {
		return err
	}
	level := slog.LevelInfo
	if c.Bool("debug") {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	socket, err := filepath.Abs(socketPath(c))
	if err != nil {
		return err
	}
	d := mountd.New(mountd.Options{Socket: socket, Logger: logger})
	return d.Run(c.Context)
}

// daemon returns a client of the node's mountd, starting it if it is not
// running.
func daemon(c *cli.Context) (*mountd.Client, error) {
	socket, err := filepath.Abs(socketPath(c))
	if err != nil {
		return nil, err
	}
	cl := mountd.NewClient(socket)
	start := func() error {
		if os.Geteuid() != 0 {
			return fmt.Errorf("mountd is not running on %s, and only root can start it", socket)
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		return mountd.Start(socket, self, filepath.Join(filepath.Dir(socket), "mountd.log"))
	}
	// A daemon that dies under a request is replaced and the request
	// sent again, once.
	cl.Restart = start
	if cl.Alive() {
		return cl, nil
	}
	if err := start(); err != nil {
		return nil, err
	}
	return cl, nil
}

func runMountdStatus(c *cli.Context) error {
	cl := mountd.NewClient(socketPath(c))
	if !cl.Alive() {
		if c.Bool("json") {
			return printJSON(map[string]any{"running": false, "socket": cl.Socket, "mounts": []any{}})
		}
		fmt.Printf("mountd is not running (socket %s)\n", cl.Socket)
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	st, err := cl.Status(ctx)
	if err != nil {
		return err
	}
	sort.Slice(st.Mounts, func(i, j int) bool { return st.Mounts[i].Mountpoint < st.Mounts[j].Mountpoint })
	if c.Bool("json") {
		return printJSON(map[string]any{"running": true, "pid": st.PID, "started": st.Started, "socket": st.Socket,
			"state": st.State, "mounts": st.Mounts})
	}
	fmt.Printf("mountd pid %d, up %s, socket %s, %d mounts\n", st.PID, time.Since(st.Started).Round(time.Second), st.Socket, len(st.Mounts))
	if len(st.Mounts) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CTID\tMOUNTPOINT\tUPTIME\tOPS\tCOPY-UPS\tPASSTHROUGH OPENS\tERRORS")
	for _, m := range st.Mounts {
		var ops int64
		for _, n := range m.Ops {
			ops += n
		}
		id := m.ID
		if id == "" {
			id = "-"
		}
		mp := m.Mountpoint
		if m.Detached {
			mp += " (detached)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\n", id, mp, (time.Duration(m.Uptime) * time.Second).Round(time.Second),
			ops, m.Stats.CopyUps, m.Stats.PassthroughOpens, m.Stats.Errors+m.Stats.BadLinks)
	}
	return tw.Flush()
}

// explain turns a daemon error into one line with the fix.
func explain(err error, mountpoint string) error {
	var ae *mountd.APIError
	if errors.As(err, &ae) && errors.Is(err, mountd.ErrBusy) {
		return fmt.Errorf("%s is busy (%s); stop them, or detach it with: ezctl umount --lazy %s",
			mountpoint, mountinfo.DescribeHolders(ae.Holders), mountpoint)
	}
	return err
}
