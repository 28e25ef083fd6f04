package nsexec

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaybeInit turns the process into the container's first process when it
// was started as one by Run, and never returns then. Call it first thing
// in main (and in TestMain), before any flag parsing.
func MaybeInit() {
	if len(os.Args) == 0 || os.Args[0] != initArg0 {
		return
	}
	os.Exit(initMain())
}

func initMain() int {
	// The bounding set is per thread: narrow it on the one that forks
	// the command.
	runtime.LockOSThread()
	fail := func(err error) int {
		unix.Write(controlFd, []byte(msgError+err.Error()))
		return 1
	}
	unix.CloseOnExec(controlFd) // the command must not hold it: its EOF tells ezctl the command runs
	buf := make([]byte, 4<<20)
	n, err := unix.Read(controlFd, buf)
	if err != nil {
		return fail(fmt.Errorf("read the spec: %w", err))
	}
	var spec Spec
	if err := json.Unmarshal(buf[:n], &spec); err != nil {
		return fail(fmt.Errorf("read the spec: %w", err))
	}
	if err := enterRoot(spec.Root); err != nil {
		return fail(err)
	}
	if err := mountSystem(); err != nil {
		return fail(err)
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fail(fmt.Errorf("set hostname %q: %w", spec.Hostname, err))
		}
	}
	if spec.Net == NetNone {
		if err := loopbackUp(); err != nil {
			return fail(err)
		}
	}
	// Catch before the command starts, so none is lost in between.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, Forwarded...)

	stdio := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	sys := &syscall.SysProcAttr{}
	if spec.TTY {
		master, slave, err := openPTY()
		if err != nil {
			return fail(err)
		}
		rights := unix.UnixRights(int(master.Fd()))
		if err := unix.Sendmsg(controlFd, []byte(msgPTY), rights, nil, 0); err != nil {
			return fail(fmt.Errorf("pass the pty to ezctl: %w", err))
		}
		master.Close()
		defer slave.Close()
		stdio = []*os.File{slave, slave, slave}
		// The command leads a session of its own with the pty as its
		// controlling terminal: job control and ^C work as on a console.
		sys = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	if err := dropCaps(spec.Net); err != nil {
		return fail(err)
	}
	path, err := lookPath(spec.Args[0], spec.Env)
	if err != nil {
		return fail(err)
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	proc, err := os.StartProcess(path, spec.Args, &os.ProcAttr{Dir: dir, Env: spec.Env, Files: stdio, Sys: sys})
	if err != nil {
		return fail(fmt.Errorf("start %s: %w", spec.Args[0], err))
	}
	if spec.TTY {
		stdio[0].Close() // the command's copies keep the pty open; EOF to ezctl follows theirs
	}
	unix.Close(controlFd) // EOF to the parent: the command runs
	go func() {
		for s := range sigs {
			proc.Signal(s)
		}
	}()
	// As PID 1, wait for every orphan too; the command's status is ours.
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 1
		}
		if pid != proc.Pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// lookPath finds name in the PATH of the command's environment, inside
// the container (the first process is already there).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in the container's PATH (%s)", name, path)
}
