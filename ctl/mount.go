package ctl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/ezfs/ezfs/fs"
	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

var mountCommand = &cli.Command{
	Name:      "mount",
	Usage:     "mount a private tree over a template area",
	ArgsUsage: "--template DIR --private DIR MOUNTPOINT",
	Description: "Returns once the mount is ready. The serving process stays in the background and\n" +
		"logs to the file it names (--log); --foreground keeps it attached instead.",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "template", Usage: "the template area `DIR`", Required: true},
		&cli.StringFlag{Name: "private", Usage: "the private tree `DIR` (root/ of a private area)", Required: true},
		&cli.BoolFlag{Name: "foreground", Usage: "serve in this process until unmounted"},
		&cli.StringFlag{Name: "log", Usage: "log `FILE` of the serving process (default /run/ezfs/mount-<mountpoint>.log)"},
		&cli.BoolFlag{Name: "no-passthrough", Usage: "serve reads and writes from the daemon, not by FUSE passthrough"},
		&cli.BoolFlag{Name: "debug", Usage: "log every FUSE request"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the serving process to `FILE` when it exits"},
		&cli.IntFlag{Name: "ready-fd", Hidden: true, Value: -1},
	},
	Action: runMount,
}

type mountArgs struct {
	template, private, mountpoint string
}

func parseMountArgs(c *cli.Context) (mountArgs, error) {
	if c.NArg() != 1 {
		return mountArgs{}, fmt.Errorf("mount: want one MOUNTPOINT, got %d arguments (see ezctl mount --help)", c.NArg())
	}
	var a mountArgs
	for _, p := range []struct {
		dst  *string
		val  string
		what string
	}{{&a.template, c.String("template"), "template area"}, {&a.private, c.String("private"), "private tree"}, {&a.mountpoint, c.Args().First(), "mountpoint"}} {
		abs, err := filepath.Abs(p.val)
		if err != nil {
			return a, err
		}
		*p.dst = abs
	}
	for _, d := range []struct{ path, what string }{{a.template, "template area"}, {a.private, "private tree"}} {
		st, err := os.Stat(d.path)
		if err != nil {
			return a, fmt.Errorf("mount: %s %s: %w", d.what, d.path, errors.Unwrap(err))
		}
		if !st.IsDir() {
			return a, fmt.Errorf("mount: %s %s is not a directory", d.what, d.path)
		}
	}
	return a, checkMountpoint(a.mountpoint)
}

// checkMountpoint refuses a mountpoint that is missing, not a directory,
// or already mounted, saying what to do about it.
func checkMountpoint(mnt string) error {
	m, mounted, err := mountinfo.Find(mnt)
	if err != nil {
		return err
	}
	if mounted {
		if m.FSType == mountinfo.EzfsType {
			var st unix.Stat_t
			if err := unix.Stat(mnt, &st); err == unix.ENOTCONN {
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
	a, err := parseMountArgs(c)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("mount %s: %w", a.mountpoint, fs.ErrNeedRoot)
	}
	if c.Bool("foreground") {
		return serve(c, a)
	}
	return startBackground(c, a)
}

// defaultLogPath names a serving process's log after its mountpoint.
func defaultLogPath(mnt string) string {
	name := strings.ReplaceAll(strings.Trim(mnt, "/"), "/", "-")
	if name == "" {
		name = "root"
	}
	return filepath.Join("/run/ezfs", "mount-"+name+".log")
}

// startBackground re-runs ezctl as the serving process, detached in a
// session of its own, and waits on a pipe until it says the mount is
// ready or why it is not.
func startBackground(c *cli.Context, a mountArgs) error {
	logPath := c.String("log")
	if logPath == "" {
		logPath = defaultLogPath(a.mountpoint)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fmt.Errorf("mount: log directory: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("mount: log file: %w", err)
	}
	defer logf.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	args := []string{"mount", "--foreground", "--ready-fd", "3",
		"--template", a.template, "--private", a.private}
	if c.Bool("no-passthrough") {
		args = append(args, "--no-passthrough")
	}
	if c.Bool("debug") {
		args = append(args, "--debug")
	}
	if p := c.String("cpuprofile"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		args = append(args, "--cpuprofile", abs)
	}
	cmd := exec.Command(self, append(args, a.mountpoint)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("mount: start serving process: %w", err)
	}
	pw.Close()
	msg, _ := io.ReadAll(bufio.NewReader(pr))
	if string(msg) != "ok\n" {
		cmd.Wait()
		if len(msg) == 0 {
			return fmt.Errorf("mount %s: the serving process exited before the mount was ready; see %s", a.mountpoint, logPath)
		}
		return errors.New(strings.TrimSpace(string(msg)))
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	fmt.Printf("mounted %s at %s (serving process %d, log %s)\n", a.private, a.mountpoint, pid, logPath)
	return nil
}

// serve mounts and serves until the kernel ends the mount (umount) or a
// signal asks to stop, which unmounts, lazily when busy.
func serve(c *cli.Context, a mountArgs) error {
	var ready *os.File
	if fd := c.Int("ready-fd"); fd >= 0 {
		ready = os.NewFile(uintptr(fd), "ready")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("mountpoint", a.mountpoint)
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
	srv, err := fs.Mount(a.mountpoint, fs.Options{
		TemplateRoot:  a.template,
		PrivateRoot:   a.private,
		NoPassthrough: c.Bool("no-passthrough"),
		Debug:         c.Bool("debug"),
		Logger:        logger,
	})
	if err != nil {
		if ready != nil {
			fmt.Fprintf(ready, "%v\n", err)
			ready.Close()
		}
		return err
	}
	logger.Info("mounted", "private", a.private, "template", a.template, "passthrough", srv.Passthrough(), "pid", os.Getpid())
	if ready != nil {
		io.WriteString(ready, "ok\n")
		ready.Close()
	}
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
	logger.Info("unmounted", "stats", fmt.Sprintf("%+v", srv.Stats()), "pid", strconv.Itoa(os.Getpid()))
	return nil
}
