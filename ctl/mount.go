package ctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/ezfs/ezfs/fs"
	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/mountd"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/urfave/cli/v2"
)

var mountCommand = &cli.Command{
	Name:      "mount",
	Usage:     "mount a container, or any private tree over any template area",
	ArgsUsage: "CTID | --template DIR --private DIR MOUNTPOINT",
	Description: "mount CTID mounts VE_PRIVATE/root at VE_ROOT. Mounts are served by mountd, which ezctl\n" +
		"starts when it is not running; the command returns once the mount is ready.\n" +
		"--foreground serves the mount in this process instead, until it is unmounted.",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "template", Usage: "the template area `DIR`"},
		&cli.StringFlag{Name: "private", Usage: "the private tree `DIR` (root/ of a private area)"},
		&cli.BoolFlag{Name: "foreground", Usage: "serve in this process until unmounted, without mountd"},
		&cli.StringFlag{Name: "log", Usage: "with --foreground: log `FILE` (default stderr)"},
		&cli.BoolFlag{Name: "no-passthrough", Usage: "serve reads and writes from the daemon, not by FUSE passthrough"},
		&cli.BoolFlag{Name: "nosuid", Usage: "ignore set-user/group-ID bits (a container root keeps them by default)"},
		&cli.BoolFlag{Name: "nodev", Usage: "refuse to open device nodes (a container root opens them by default)"},
		&cli.BoolFlag{Name: "debug", Usage: "log every FUSE request of this mount"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "with --foreground: write a CPU profile to `FILE` when it exits"},
	},
	Action: runMount,
}

// mountArgs resolves what to mount where, from a CTID or from flags.
func mountArgs(c *cli.Context) (mountd.Record, error) {
	var rec mountd.Record
	if c.String("template") == "" && c.String("private") == "" {
		if err := needArgs(c, 1, "a CTID, or --template DIR --private DIR MOUNTPOINT"); err != nil {
			return rec, err
		}
		id, err := ctidArg(c)
		if err != nil {
			return rec, err
		}
		cfg, err := config(c)
		if err != nil {
			return rec, err
		}
		if _, err := tmpl.LoadContainer(cfg, id); err != nil {
			return rec, fmt.Errorf("mount: container %s does not exist (no %s in %s); create it with: ezctl create %s --ostemplate NAME",
				id, tmpl.VEConfFile, cfg.Private(id), id)
		}
		rec = mountd.Record{ID: id, Template: cfg.Template, Private: filepath.Join(cfg.Private(id), "root"), Mountpoint: cfg.Root(id)}
		if err := os.MkdirAll(rec.Mountpoint, 0o755); err != nil {
			return rec, err
		}
	} else {
		if c.String("template") == "" || c.String("private") == "" {
			return rec, fmt.Errorf("mount: give both --template and --private, and a MOUNTPOINT")
		}
		if err := needArgs(c, 1, "one MOUNTPOINT"); err != nil {
			return rec, err
		}
		rec.Template, rec.Private, rec.Mountpoint = c.String("template"), c.String("private"), c.Args().First()
	}
	for _, p := range []*string{&rec.Template, &rec.Private, &rec.Mountpoint} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return rec, err
		}
		*p = abs
	}
	rec.NoPassthrough, rec.Debug = c.Bool("no-passthrough"), c.Bool("debug")
	rec.NoSetuid, rec.NoDevices = c.Bool("nosuid"), c.Bool("nodev")
	for _, d := range []struct{ path, what string }{{rec.Template, "template area"}, {rec.Private, "private tree"}} {
		st, err := os.Stat(d.path)
		if err != nil {
			return rec, fmt.Errorf("mount: %s %s: %w", d.what, d.path, errors.Unwrap(err))
		}
		if !st.IsDir() {
			return rec, fmt.Errorf("mount: %s %s is not a directory", d.what, d.path)
		}
	}
	return rec, checkMountpoint(rec.Mountpoint, !c.Bool("foreground"))
}

// checkMountpoint refuses a mountpoint that is missing, not a directory,
// or mounted, saying what to do about it. Through mountd, an ezfs mount
// there is the daemon's to judge: one it serves as asked is fine, a dead
// one it cleans.
func checkMountpoint(mnt string, viaDaemon bool) error {
	m, mounted, err := mountinfo.Find(mnt)
	if err != nil {
		return err
	}
	if mounted && !(viaDaemon && m.FSType == mountinfo.EzfsType) {
		if m.FSType == mountinfo.EzfsType {
			if mountinfo.Dead(mnt) {
				return fmt.Errorf("mount: %s is a dead ezfs mount (its serving process is gone); clean it with: ezctl umount %s", mnt, mnt)
			}
			return fmt.Errorf("mount: %s is already mounted (ezfs of %s); unmount it first with: ezctl umount %s", mnt, m.Source, mnt)
		}
		return fmt.Errorf("mount: %s is already a mount point (%s of %s); choose another directory", mnt, m.FSType, m.Source)
	}
	st, err := os.Stat(mnt)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mount: mountpoint %s does not exist; create it with: mkdir -p %s", mnt, mnt)
	}
	if err != nil {
		return fmt.Errorf("mount: mountpoint %s: %w", mnt, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("mount: mountpoint %s is not a directory", mnt)
	}
	return nil
}

func runMount(c *cli.Context) error {
	if err := requireRoot("mount"); err != nil {
		return err
	}
	rec, err := mountArgs(c)
	if err != nil {
		return err
	}
	if c.Bool("foreground") {
		return serve(c, rec)
	}
	cl, err := daemon(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if _, err := cl.Mount(ctx, rec); err != nil {
		return fmt.Errorf("mount %s: %w", rec.Mountpoint, err)
	}
	st, err := cl.Status(ctx)
	pid := 0
	if err == nil {
		pid = st.PID
	}
	what := rec.Private
	if rec.ID != "" {
		what = "container " + rec.ID
	}
	fmt.Printf("mounted %s at %s (served by mountd, serving process %d, log %s)\n", what, rec.Mountpoint, pid,
		filepath.Join(filepath.Dir(cl.Socket), "mountd.log"))
	return nil
}

// serve mounts and serves in this process until the kernel ends the
// mount (umount) or a signal asks to stop, which unmounts, lazily when
// busy.
func serve(c *cli.Context, rec mountd.Record) error {
	out := os.Stderr
	if p := c.String("log"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	logger := slog.New(slog.NewTextHandler(out, nil)).With("mountpoint", rec.Mountpoint)
	if p := c.String("cpuprofile"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("mount: cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("mount: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	srv, err := fs.Mount(rec.Mountpoint, fs.Options{
		TemplateRoot: rec.Template, PrivateRoot: rec.Private,
		NoPassthrough: rec.NoPassthrough, NoSetuid: rec.NoSetuid, NoDevices: rec.NoDevices, Debug: rec.Debug, Logger: logger,
	})
	if err != nil {
		return err
	}
	logger.Info("mounted", "private", rec.Private, "template", rec.Template, "passthrough", srv.Passthrough(), "pid", os.Getpid())
	fmt.Printf("mounted %s at %s (serving process %d, in the foreground)\n", rec.Private, rec.Mountpoint, os.Getpid())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		logger.Info("unmounting on signal", "signal", s.String())
		if err := srv.Unmount(false); err != nil {
			logger.Warn("mount busy, detaching lazily", "err", err)
			srv.Unmount(true)
		}
	}()
	srv.Wait()
	logger.Info("unmounted", "stats", fmt.Sprintf("%+v", srv.Stats()))
	return nil
}
