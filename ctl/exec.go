package ctl

import (
	"fmt"
	"os"

	"github.com/ezfs/ezfs/internal/nsexec"
	container "github.com/ezfs/ezfs/tmpl/ct"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

var netFlag = &cli.StringFlag{Name: "net", Value: nsexec.NetHost, Usage: "network: `host` (the host's) or none (an empty namespace with lo)"}

// runtimeCommands run things inside a container.
var runtimeCommands = []*cli.Command{
	{Name: "enter", Usage: "a login shell inside a mounted container, with a terminal", ArgsUsage: "CTID",
		Flags: []cli.Flag{netFlag}, Action: runEnter},
	{Name: "set", Usage: "change a container's hostname or resolvers (ve.conf, /etc/hostname, /etc/resolv.conf)",
		ArgsUsage: "CTID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "hostname", Usage: "the container's host `NAME`"},
			&cli.StringSliceFlag{Name: "nameserver", Usage: "a resolver's `IP`; repeat for more"},
		}, Action: runSet},
	bundleCommand,
}

// ctEnv is the environment a command starts with inside: a clean one,
// as after a login.
func ctEnv(id string) []string {
	t := os.Getenv("TERM")
	if t == "" {
		t = "dumb"
	}
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=" + t,
		"VEID=" + id, "container=ezfs", "LANG=C.UTF-8"}
}

// ctSpec is what exec, enter and bundle run: the mounted container's
// root with its hostname.
func ctSpec(c *cli.Context, what string) (*container.CT, nsexec.Spec, error) {
	if err := requireRoot(what); err != nil {
		return nil, nsexec.Spec{}, err
	}
	ct, err := openCT(c)
	if err != nil {
		return nil, nsexec.Spec{}, err
	}
	root := ct.Cfg.Root(ct.ID)
	if !isMounted(root) {
		return nil, nsexec.Spec{}, fmt.Errorf("%s: container %s is not mounted; mount it with: ezctl mount %s", what, ct.ID, ct.ID)
	}
	n, err := container.LoadNetwork(ct.Cfg, ct.ID)
	if err != nil {
		return nil, nsexec.Spec{}, err
	}
	return ct, nsexec.Spec{Root: root, Hostname: n.Hostname, Env: ctEnv(ct.ID), Net: c.String("net")}, nil
}

// runSpec runs spec and turns a non-zero status into ezctl's own.
func runSpec(ct *container.CT, spec nsexec.Spec) error {
	code, err := nsexec.Run(spec)
	if err != nil {
		return fmt.Errorf("exec in container %s: %w", ct.ID, err)
	}
	if code != 0 {
		return &exitError{code: code, err: fmt.Errorf("exec in container %s: %s exited with status %d", ct.ID, spec.Args[0], code)}
	}
	return nil
}

func runExec(c *cli.Context) error {
	if c.NArg() < 2 {
		return fmt.Errorf("exec: want a CTID and a command: ezctl exec [--net host|none] CTID -- CMD [ARGS...]")
	}
	args := c.Args().Slice()[1:]
	if args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return fmt.Errorf("exec: no command after --")
	}
	ct, spec, err := ctSpec(c, "exec")
	if err != nil {
		return err
	}
	spec.Args = args
	return runSpec(ct, spec)
}

func runEnter(c *cli.Context) error {
	if err := needArgs(c, 1, "one CTID"); err != nil {
		return err
	}
	ct, spec, err := ctSpec(c, "enter")
	if err != nil {
		return err
	}
	// A pty only for a terminal: piped input runs the shell as it is.
	spec.TTY = term.IsTerminal(int(os.Stdin.Fd()))
	spec.Args = []string{"/bin/sh", "-c", `cd 2>/dev/null || cd /; exec "$(command -v bash || echo /bin/sh)" -l`}
	return runSpec(ct, spec)
}

func runSet(c *cli.Context) error {
	if err := needArgs(c, 1, "one CTID, then --hostname NAME and/or --nameserver IP"); err != nil {
		return err
	}
	if err := requireRoot("set"); err != nil {
		return err
	}
	set := container.Network{Hostname: c.String("hostname"), Nameservers: c.StringSlice("nameserver")}
	if set.Hostname == "" && len(set.Nameservers) == 0 {
		return fmt.Errorf("set: nothing to set: give --hostname NAME and/or --nameserver IP")
	}
	ct, err := openCT(c)
	if err != nil {
		return err
	}
	if err := ct.SetNetwork(set, ctOptions(c, ct)); err != nil {
		return err
	}
	n, err := container.LoadNetwork(ct.Cfg, ct.ID)
	if err != nil {
		return err
	}
	fmt.Printf("container %s: hostname %s, nameservers %v (applies to the next exec)\n", ct.ID, n.Hostname, n.Nameservers)
	return nil
}
