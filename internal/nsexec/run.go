package nsexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Forwarded are the signals passed on to the command: the container runs
// in a session of its own, so the terminal's signals (Ctrl-C, Ctrl-\, a
// hangup) reach it only this way, and exactly once. Job-control signals
// and the Go runtime's SIGURG stay with ezctl.
var Forwarded = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM}

// ErrSetup wraps a failure to build the container's environment, as
// opposed to the command's own exit status.
var ErrSetup = errors.New("container setup failed")

// Run starts spec's command in new namespaces with the caller's stdin,
// stdout and stderr (or, with spec.TTY, a pty relayed to them) and
// returns its exit status: 128+N when a signal N ended it.
func Run(spec Spec) (int, error) {
	if len(spec.Args) == 0 {
		return 0, fmt.Errorf("no command to run")
	}
	if !filepath.IsAbs(spec.Root) {
		return 0, fmt.Errorf("container root %q: want an absolute path", spec.Root)
	}
	if spec.Net == "" {
		spec.Net = NetHost
	}
	flags := unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	switch spec.Net {
	case NetHost:
	case NetNone:
		flags |= unix.CLONE_NEWNET
	default:
		return 0, fmt.Errorf("network %q: want %s or %s", spec.Net, NetHost, NetNone)
	}
	stdin, stdout, stderr := orDefault(spec.Stdin, os.Stdin), orDefault(spec.Stdout, os.Stdout), orDefault(spec.Stderr, os.Stderr)
	payload, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("control socket: %w", err)
	}
	ours, theirs := fds[0], os.NewFile(uintptr(fds[1]), "nsexec-control")
	defer unix.Close(ours)

	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{initArg0},
		Env:        []string{},
		Stdin:      stdin,
		Stdout:     stdout,
		Stderr:     stderr,
		ExtraFiles: []*os.File{theirs},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: uintptr(flags),
			Setsid:     true,         // terminal signals reach the container only through Forwarded
			Pdeathsig:  unix.SIGKILL, // ezctl gone: the container's init and with it every process inside
		},
	}
	// Catch before starting, so a Ctrl-C in between is forwarded rather
	// than ending ezctl and leaving the command orphaned.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, Forwarded...)
	defer signal.Stop(sigs)
	if spec.TTY {
		signal.Notify(sigs, unix.SIGWINCH)
	}
	if err := cmd.Start(); err != nil {
		theirs.Close()
		return 0, fmt.Errorf("start the container's init: %w", err)
	}
	theirs.Close()
	if _, err := unix.Write(ours, payload); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, fmt.Errorf("send the spec to the container's init: %w", err)
	}

	var master atomic.Pointer[os.File]
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == unix.SIGWINCH {
					if m := master.Load(); m != nil {
						copySize(m, stdin)
					}
					continue
				}
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()

	var outDone chan struct{}
	var restore func()
	setupErr := ""
	for {
		msg, fd, err := recvMsg(ours)
		if err != nil || msg == "" {
			break // EOF: the command started, or init died (its status says how)
		}
		switch {
		case msg == msgPTY && fd >= 0 && spec.TTY && master.Load() == nil: // one, and only when asked for
			m := os.NewFile(uintptr(fd), "pty-master")
			master.Store(m)
			outDone, restore = relay(m, stdin, stdout)
		case strings.HasPrefix(msg, msgError):
			setupErr = strings.TrimPrefix(msg, msgError)
		default:
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}
	if restore != nil {
		defer restore()
	}

	err = cmd.Wait()
	close(done)
	if outDone != nil {
		<-outDone // the pty's last output, up to the slave's close
		master.Load().Close()
	}
	if setupErr != "" {
		return 0, fmt.Errorf("%w: %s", ErrSetup, setupErr)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// relay copies between the caller's terminal (in raw mode: the
// container's pty does the line discipline) and the pty master.
func relay(master, stdin, stdout *os.File) (outDone chan struct{}, restore func()) {
	copySize(master, stdin)
	restore = func() {}
	if st, err := term.MakeRaw(int(stdin.Fd())); err == nil {
		restore = func() { term.Restore(int(stdin.Fd()), st) }
	}
	go io.Copy(master, stdin) // ends with ezctl: stdin may never close
	outDone = make(chan struct{})
	go func() {
		io.Copy(stdout, master) // EIO once the last slave is closed
		close(outDone)
	}()
	return outDone, restore
}

func copySize(master, stdin *os.File) {
	if ws, err := unix.IoctlGetWinsize(int(stdin.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// recvMsg reads one message and the descriptor it carries (-1: none).
func recvMsg(sock int) (string, int, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", -1, err
		}
		fd := -1
		if oobn > 0 {
			if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cms) > 0 {
				if fds, err := unix.ParseUnixRights(&cms[0]); err == nil && len(fds) > 0 {
					fd = fds[0]
					for _, extra := range fds[1:] {
						unix.Close(extra)
					}
				}
			}
		}
		return string(buf[:n]), fd, nil
	}
}

func orDefault(f, def *os.File) *os.File {
	if f == nil {
		return def
	}
	return f
}
