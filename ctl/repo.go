package ctl

import (
	"fmt"

	"github.com/ezfs/ezfs/tmpl/tarpm"
	"github.com/urfave/cli/v2"
)

var repoCommand = &cli.Command{
	Name:  "repo",
	Usage: "tar package repositories",
	Subcommands: []*cli.Command{
		{Name: "index", Usage: "write DIR/Packages for the .tar.gz and .tar.zst packages in DIR", ArgsUsage: "DIR",
			Action: func(c *cli.Context) error {
				if err := needArgs(c, 1, "one DIR"); err != nil {
					return err
				}
				n, err := tarpm.IndexRepo(c.Args().First())
				if err != nil {
					return err
				}
				fmt.Printf("indexed %d packages in %s/Packages\n", n, c.Args().First())
				return nil
			}},
	},
}
