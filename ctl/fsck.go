package ctl

import (
	"fmt"
	"os"

	container "github.com/ezfs/ezfs/tmpl/ct"
	"github.com/urfave/cli/v2"
)

var fsckCommand = &cli.Command{
	Name:      "fsck",
	Usage:     "report and repair what a crash left in a private area",
	ArgsUsage: "CTID",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "dry-run", Usage: "report only"},
		&cli.BoolFlag{Name: "json", Usage: "print JSON"},
	},
	Action: runFsck,
}

func runFsck(c *cli.Context) error {
	if err := needArgs(c, 1, "one CTID"); err != nil {
		return err
	}
	if err := requireRoot("fsck"); err != nil {
		return err
	}
	id, err := ctidArg(c)
	if err != nil {
		return err
	}
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	repair := !c.Bool("dry-run")
	if repair && isMounted(cfg.Root(id)) {
		return fmt.Errorf("fsck: container %s is mounted; unmount it first (ezctl umount %s), or check only with --dry-run", id, id)
	}
	fs, err := container.Fsck(a, cfg, id, repair)
	if err != nil {
		return err
	}
	if fs == nil {
		fs = []container.Finding{}
	}
	if c.Bool("json") {
		if err := printJSON(fs); err != nil {
			return err
		}
	} else {
		for _, f := range fs {
			state := "to do: " + f.Fix
			if f.Fixed {
				state = f.Fix
			}
			fmt.Fprintf(os.Stdout, "%s: %s; %s\n", f.Path, f.Problem, state)
		}
	}
	left := 0
	for _, f := range fs {
		if !f.Fixed {
			left++
		}
	}
	switch {
	case len(fs) == 0:
		if !c.Bool("json") {
			fmt.Printf("container %s: clean\n", id)
		}
	case left > 0:
		return fmt.Errorf("fsck: container %s: %d of %d problems remain", id, left, len(fs))
	}
	return nil
}
