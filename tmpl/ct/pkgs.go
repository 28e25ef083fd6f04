package ct

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/repo"
)

// pkgState is what an operation on a container's packages starts from:
// the package manager run of its stack, its vzpackages, the packages
// they name as the area has them, and its repositories' index.
type pkgState struct {
	run   *tmpl.Run
	lines []tmpl.PkgLine
	inst  map[string]*repo.Installed // by package name
	ix    *repo.Index
}

// loadPkgState reads the container's packages and the index of st's
// repositories.
func (ct *CT) loadPkgState(ctx context.Context, st *tmpl.Stack, opts Options) (*pkgState, error) {
	run, err := ct.Area.NewRun(st, opts.Reporter)
	if err != nil {
		return nil, err
	}
	lines, inst, err := ct.installedPackages(run.ArchDir())
	if err != nil {
		return nil, err
	}
	ix, err := run.Index(ctx)
	if err != nil {
		return nil, err
	}
	return &pkgState{run: run, lines: lines, inst: inst, ix: ix}, nil
}

// installedPackages loads the container's packages from the area.
func (ct *CT) installedPackages(archDir string) ([]tmpl.PkgLine, map[string]*repo.Installed, error) {
	lines, err := tmpl.LoadVZPackages(ct.Private)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", ct.ID, err)
	}
	inst := map[string]*repo.Installed{}
	for _, l := range lines {
		ip, err := repo.LoadInstalled(filepath.Join(archDir, l.Key()))
		if err != nil {
			return nil, nil, fmt.Errorf("container %s: package %s %s is not in the template area (%v); run ezctl fsck %s", ct.ID, l.Name, l.Version, err, ct.ID)
		}
		inst[l.Name] = ip
	}
	return lines, inst, nil
}

// seeded returns a resolver that treats the container's packages as
// chosen already.
func seeded(ix *repo.Index, inst map[string]*repo.Installed, skip func(string) bool) *repo.Resolver {
	r := ix.NewResolver()
	for name, ip := range inst {
		if skip != nil && skip(name) {
			continue
		}
		if p, err := repo.PackageFromStanza(ip.Control); err == nil {
			r.Select(p)
		}
	}
	return r
}

// planAdd lists the entries packages bring into a container.
func planAdd(area *tmpl.Area, pkgs []*repo.Installed) []planEntry {
	var out []planEntry
	for _, p := range pkgs {
		for _, e := range p.Entries {
			pe := planEntry{Entry: e}
			if e.Type == 'f' {
				pe.Value = tmpl.LinkValue(area, p, &e)
			}
			out = append(out, pe)
		}
	}
	return out
}

// configure registers packages in the container's package database and
// configures them inside it, for package managers that have one.
func (ct *CT) configure(ctx context.Context, run *tmpl.Run, add []*repo.Installed, drop []string, env []string, opts Options) error {
	db := run.DB()
	if db == nil || len(add) == 0 && len(drop) == 0 {
		return nil
	}
	if opts.InContainer == nil {
		return fmt.Errorf("container %s: its packages need configuring inside it, and there is no way in", ct.ID)
	}
	return opts.InContainer(func(root string) error {
		if len(drop) > 0 {
			if err := db.Unregister(root, drop); err != nil {
				return err
			}
		}
		if len(add) == 0 {
			return nil
		}
		if err := db.Register(root, ct.Area.Root, add, false); err != nil {
			return err
		}
		return db.Configure(ctx, root, add, env)
	})
}

func namesOf(ts []*tmpl.Template) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return out
}
