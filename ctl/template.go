package ctl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ezfs/ezfs/tmpl"
	"github.com/urfave/cli/v2"
)

var templateCommand = &cli.Command{
	Name:  "template",
	Usage: "install, list, inspect and remove templates",
	Subcommands: []*cli.Command{
		{Name: "install", Usage: "install the templates in PATH (a directory laid out like the template area, or a .tar.gz of one)",
			ArgsUsage: "PATH", Action: runTemplateInstall},
		{Name: "list", Usage: "list installed templates", Action: runTemplateList,
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}}},
		{Name: "info", Usage: "show one template", ArgsUsage: "NAME", Action: runTemplateInfo,
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}}},
		{Name: "remove", Usage: "remove a template no container uses", ArgsUsage: "NAME", Action: runTemplateRemove},
	},
}

func runTemplateInstall(c *cli.Context) error {
	if err := needArgs(c, 1, "one PATH"); err != nil {
		return err
	}
	a, _, err := area(c)
	if err != nil {
		return err
	}
	ts, err := a.InstallTemplates(c.Args().First())
	if err != nil {
		return err
	}
	for _, t := range ts {
		fmt.Printf("installed %s (%s)\n", t.FullName(), t.Kind())
	}
	return nil
}

// templateInfo is what list and info show of a template.
type templateInfo struct {
	Name         string   `json:"name"`
	FullName     string   `json:"full_name"`
	Kind         string   `json:"kind"`
	OSTemplate   string   `json:"os_template"`
	Summary      string   `json:"summary,omitempty"`
	Description  string   `json:"description,omitempty"`
	Packages     []string `json:"packages"`
	Manager      string   `json:"package_manager,omitempty"`
	Repositories []string `json:"repositories,omitempty"`
	Mirrorlist   []string `json:"mirrorlist,omitempty"`
	Version      string   `json:"version,omitempty"`
	Release      string   `json:"release,omitempty"`
	Scripts      []string `json:"scripts,omitempty"`
	Installed    bool     `json:"installed"`
	Cached       bool     `json:"cached"`
	Cache        string   `json:"cache,omitempty"`
	Containers   []string `json:"containers"`
	Dir          string   `json:"dir"`
}

func describe(a *tmpl.Area, cfg *tmpl.VZConf, t *tmpl.Template) templateInfo {
	info := templateInfo{
		Name: t.Name(), FullName: t.FullName(), Kind: t.Kind().String(), OSTemplate: t.Base().Name(),
		Summary: t.Summary, Description: t.Description, Packages: t.Packages, Manager: t.PackageManager,
		Repositories: t.Repositories, Mirrorlist: t.Mirrorlist, Version: t.Version, Release: t.Release,
		Installed: true, Containers: tmpl.ContainersUsing(cfg, t), Dir: t.Dir,
	}
	if info.Packages == nil {
		info.Packages = []string{}
	}
	for s := range t.Scripts {
		info.Scripts = append(info.Scripts, s)
	}
	if t.IsOS() {
		if _, err := os.Stat(a.CachePath(t.Name())); err == nil {
			info.Cached, info.Cache = true, a.CachePath(t.Name())
		}
	}
	return info
}

func runTemplateList(c *cli.Context) error {
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	ts, errs := a.Templates()
	infos := []templateInfo{}
	for _, t := range ts {
		infos = append(infos, describe(a, cfg, t))
	}
	for _, e := range errs {
		fmt.Fprintf(os.Stderr, "ezctl: warning: %v\n", e)
	}
	if c.Bool("json") {
		return printJSON(infos)
	}
	if len(infos) == 0 {
		fmt.Printf("no templates in %s; install one with: ezctl template install PATH\n", a.Root)
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tCACHED\tCONTAINERS\tSUMMARY")
	for _, i := range infos {
		name := i.Name
		if i.Kind == tmpl.App.String() || i.Kind == tmpl.AppSet.String() {
			name = i.FullName
		}
		cached := "-"
		if i.Cached {
			cached = "yes"
		} else if strings.Contains(i.Kind, "OS") {
			cached = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", name, i.Kind, cached, len(i.Containers), i.Summary)
	}
	return tw.Flush()
}

func runTemplateInfo(c *cli.Context) error {
	if err := needArgs(c, 1, "one template NAME"); err != nil {
		return err
	}
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	t, err := a.Find(c.Args().First())
	if err != nil {
		return err
	}
	i := describe(a, cfg, t)
	if c.Bool("json") {
		return printJSON(i)
	}
	fmt.Printf("name:          %s\nkind:          %s\nOS template:   %s\nsummary:       %s\n", i.FullName, i.Kind, i.OSTemplate, i.Summary)
	if i.Manager != "" {
		fmt.Printf("package manager: %s\n", i.Manager)
	}
	fmt.Printf("packages:      %s\n", strings.Join(i.Packages, " "))
	for _, r := range i.Repositories {
		fmt.Printf("repository:    %s\n", r)
	}
	for _, m := range i.Mirrorlist {
		fmt.Printf("mirrorlist:    %s\n", m)
	}
	cached := "no"
	if i.Cached {
		cached = i.Cache
	}
	fmt.Printf("cached:        %s\ncontainers:    %s\nconfig:        %s\n", cached, strings.Join(i.Containers, " "), filepath.Clean(i.Dir))
	if i.Description != "" {
		fmt.Printf("\n%s\n", i.Description)
	}
	return nil
}

func runTemplateRemove(c *cli.Context) error {
	if err := needArgs(c, 1, "one template NAME"); err != nil {
		return err
	}
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	removed, err := a.RemoveTemplate(cfg, c.Args().First())
	if err != nil {
		return err
	}
	fmt.Printf("removed %s\n", removed)
	return nil
}
