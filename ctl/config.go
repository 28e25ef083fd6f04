package ctl

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/ezfs/ezfs/mountd"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/urfave/cli/v2"
)

var globalFlags = []cli.Flag{
	&cli.StringFlag{Name: "conf", Usage: "read the vz.conf `FILE`", EnvVars: []string{"EZFS_CONF"}},
	&cli.StringFlag{Name: "vz", Usage: "keep everything under `DIR` (DIR/template, DIR/private/ID, DIR/root/ID); no vz.conf", EnvVars: []string{"EZFS_VZ"}},
	&cli.StringFlag{Name: "socket", Usage: "mountd's socket `PATH` (default " + mountd.DefaultSocket + ")", EnvVars: []string{"EZFS_MOUNTD_SOCKET"}},
}

// config returns the node's configuration from --vz, --conf or the
// default vz.conf.
func config(c *cli.Context) (*tmpl.VZConf, error) {
	vz, conf := c.String("vz"), c.String("conf")
	if vz != "" && conf != "" {
		return nil, fmt.Errorf("--vz and --conf exclude each other; give one")
	}
	if vz != "" {
		return tmpl.VZDirConf(vz)
	}
	if conf != "" {
		return tmpl.LoadVZConf(conf, true)
	}
	return tmpl.LoadVZConf(tmpl.DefaultVZConfPath, false)
}

func area(c *cli.Context) (*tmpl.Area, *tmpl.VZConf, error) {
	cfg, err := config(c)
	if err != nil {
		return nil, nil, err
	}
	a := &tmpl.Area{Root: cfg.Template}
	// Every command that opens the area closes it to other users if an
	// older version left it open.
	if os.Geteuid() == 0 {
		if err := a.Seal(); err != nil {
			return nil, nil, fmt.Errorf("template area: %w", err)
		}
	}
	return a, cfg, nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func needArgs(c *cli.Context, n int, what string) error {
	if c.NArg() != n {
		return fmt.Errorf("%s: want %s (see %s --help)", c.Command.HelpName, what, c.Command.HelpName)
	}
	return nil
}

// ctidArg is the command's first argument, a container id, checked the
// one way every command checks it (tmpl.CheckCTID).
func ctidArg(c *cli.Context) (string, error) {
	id := c.Args().First()
	if err := tmpl.CheckCTID(id); err != nil {
		return "", fmt.Errorf("%s: %w", c.Command.HelpName, err)
	}
	return id, nil
}
