// Package nsexec runs a command inside a container's mounted root with
// its own PID, mount, UTS and IPC namespaces (and, on request, an empty
// network namespace), the way vzctl exec does.
//
// The parent (Run) re-executes the running binary as the container's
// first process, with the namespaces made by clone(2) flags; that process
// (Init, reached through MaybeInit before any command-line parsing)
// makes every mount private, pivots into the root, mounts /proc, a
// read-only /sys and a minimal /dev, sets the hostname, starts the
// command as its child, forwards signals to it, reaps orphans and exits
// with the command's status. Everything it mounts lives in its own mount
// namespace and goes away with it.
package nsexec

import "os"

// Spec is what the container's first process needs; the parent sends it
// as JSON over the control socket.
type Spec struct {
	Root     string   `json:"root"`     // absolute; the container's mounted root (VE_ROOT)
	Hostname string   `json:"hostname"` // set in the new UTS namespace
	Args     []string `json:"args"`     // the command; Args[0] is looked up in the container's PATH
	Env      []string `json:"env"`      // the command's whole environment
	Dir      string   `json:"dir"`      // working directory inside; "/" when empty
	Net      string   `json:"net"`      // NetHost (default) or NetNone
	TTY      bool     `json:"tty"`      // give the command a terminal (a pty of the container's devpts)

	// The command's stdin, stdout and stderr (nil: the caller's). With
	// TTY, stdin must be a terminal; the pty is relayed to them.
	Stdin          *os.File `json:"-"`
	Stdout, Stderr *os.File `json:"-"`
}

// Network modes of Spec.Net.
const (
	NetHost = "host" // share the host's network namespace
	NetNone = "none" // a new network namespace with only a loopback device
)

// initArg0 is the argv[0] the re-executed binary is started with; it is
// how MaybeInit knows it is the container's first process.
const initArg0 = "ezfs-nsinit"

// controlFd is the control socket's descriptor in the first process: a
// SOCK_SEQPACKET socket carrying the spec in, and out the pty master and
// any setup error.
const controlFd = 3

// Messages of the first process to the parent.
const (
	msgPTY   = "pty"    // carries the pty master as SCM_RIGHTS
	msgError = "error:" // setup failed; the rest is the reason
)
