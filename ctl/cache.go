package ctl

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/fs"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/urfave/cli/v2"
)

var cacheCommand = &cli.Command{
	Name:  "cache",
	Usage: "create, update and remove the cache of an OS template",
	Subcommands: []*cli.Command{
		{Name: "create", Usage: "install the template's packages and write its cache tarball", ArgsUsage: "NAME",
			Action: func(c *cli.Context) error { return runCache(c, false) }},
		{Name: "update", Usage: "rebuild the cache, keeping the previous one as .tar.gz-old", ArgsUsage: "NAME",
			Action: func(c *cli.Context) error { return runCache(c, true) }},
		{Name: "remove", Usage: "remove the cache tarball", ArgsUsage: "NAME", Action: runCacheRemove},
	},
}

func runCache(c *cli.Context, update bool) error {
	if err := needArgs(c, 1, "one OS template NAME"); err != nil {
		return err
	}
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	if err := requireRoot("cache"); err != nil {
		return err
	}
	res, err := a.CreateCache(c.Context, c.Args().First(), tmpl.CacheOptions{
		Update: update, Reporter: newReporter(), Mount: mountInProcess,
	})
	if err != nil {
		return err
	}
	// The old cache's seed is never snapshotted again: free its space.
	tmpl.DropSeeds(cfg, strings.TrimSuffix(filepath.Base(res.Path), ".tar.gz"))
	fmt.Printf("cache %s: %d packages (%d new on this node), %d link entries, %d KiB\n",
		res.Path, len(res.Packages), len(res.New), res.Files, res.Bytes>>10)
	return nil
}

func runCacheRemove(c *cli.Context) error {
	if err := needArgs(c, 1, "one OS template NAME"); err != nil {
		return err
	}
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	if err := a.RemoveCache(c.Args().First()); err != nil {
		return err
	}
	tmpl.DropSeeds(cfg, c.Args().First())
	fmt.Printf("removed the cache of %s\n", c.Args().First())
	return nil
}

// mountInProcess serves a staging container from this process for as
// long as a cache operation runs its scripts.
func mountInProcess(template, private, mountpoint string) (func() error, error) {
	srv, err := fs.Mount(mountpoint, fs.Options{TemplateRoot: template, PrivateRoot: private, FsName: "ezfs-staging"})
	if err != nil {
		return nil, err
	}
	return func() error {
		err := srv.Unmount(false)
		if err != nil {
			err = srv.Unmount(true)
		}
		srv.Wait()
		return err
	}, nil
}
