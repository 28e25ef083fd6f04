package ct

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/repo"
)

// Update is one package moving to a newer version.
type Update struct {
	Name, From, To, Template string
}

// updatePlan is what update would do, with what it needs to do it.
type updatePlan struct {
	*pkgState
	ups  []Update
	pkgs []*repo.Package // to install: the new versions and what they need
}

// planUpdates finds the newer versions of the container's packages (of
// the templates in only, or all) in the repositories of st.
func (ct *CT) planUpdates(ctx context.Context, st *tmpl.Stack, only []string, opts Options) (*updatePlan, error) {
	ps, err := ct.loadPkgState(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	for _, o := range only {
		if !slices.Contains(ct.Apps, strings.TrimPrefix(o, ".")) && o != ct.OSTemplate {
			return nil, fmt.Errorf("container %s has no template %s", ct.ID, o)
		}
	}
	plan := &updatePlan{pkgState: ps}
	updating := map[string]bool{}
	for _, l := range ps.lines {
		if len(only) > 0 && !slices.Contains(only, l.Template) {
			continue
		}
		if p := ps.ix.Newest(repo.Relation{Name: l.Name}); p != nil && repo.CompareVersions(p.Version, l.Version) > 0 {
			plan.ups = append(plan.ups, Update{Name: l.Name, From: l.Version, To: p.Version, Template: l.Template})
			updating[l.Name] = true
		}
	}
	if len(plan.ups) == 0 {
		return plan, nil
	}
	r := seeded(ps.ix, ps.inst, func(n string) bool { return updating[n] })
	for _, u := range plan.ups {
		if err := r.Satisfy(repo.Clause{{Name: u.Name, Op: "=", Version: u.To}}, ""); err != nil {
			return nil, err
		}
	}
	plan.pkgs = r.Chosen()
	return plan, nil
}

// Status lists the updates the container's templates offer.
func (ct *CT) Status(ctx context.Context, opts Options) ([]Update, error) {
	st, err := ct.stack()
	if err != nil {
		return nil, err
	}
	plan, err := ct.planUpdates(ctx, st, nil, opts)
	if err != nil {
		return nil, err
	}
	return plan.ups, nil
}

// Update moves the container's packages (of the given templates, or all)
// to the newest versions in its repositories: files still linked to the
// old version are relinked, files the container changed are kept with
// the new version beside them as FILE.ezfs-new, new files are linked,
// dropped ones removed where untouched.
func (ct *CT) Update(ctx context.Context, only []string, opts Options) ([]Update, *Report, error) {
	st, _, unlock, err := ct.begin()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	for i := range only {
		only[i] = strings.TrimPrefix(only[i], ".")
	}
	plan, err := ct.planUpdates(ctx, st, only, opts)
	if err != nil || len(plan.ups) == 0 {
		return nil, nil, err
	}
	ups, run := plan.ups, plan.run
	affected := []*tmpl.Template{}
	for _, t := range append([]*tmpl.Template{st.Base}, st.Layers...) {
		for _, u := range ups {
			if u.Template == t.Name() && !slices.Contains(affected, t) {
				affected = append(affected, t)
			}
		}
	}
	if err := ct.runScripts(ctx, affected, "pre-upgrade", run.Env(), opts); err != nil {
		return nil, nil, err
	}
	installed, created, err := run.Ensure(ctx, plan.pkgs)
	if err != nil {
		return nil, nil, err
	}
	jr := &journal{Op: "update", Apps: ct.Apps}
	owner := map[string]string{}
	for _, l := range plan.lines {
		owner[l.Name] = l.Template
	}
	newLines := []tmpl.PkgLine{}
	replaced := map[string]bool{}
	for _, ip := range installed {
		replaced[ip.Name] = true
		old := plan.inst[ip.Name]
		if old == nil {
			jr.Add = append(jr.Add, planAdd(ct.Area, []*repo.Installed{ip})...)
		} else {
			jr.diff(ct.Area, old, ip)
		}
		t := owner[ip.Name]
		if t == "" {
			t = ups[0].Template
		}
		newLines = append(newLines, tmpl.PkgLine{Name: ip.Name, Version: ip.Version, Arch: ip.Arch, Template: t})
	}
	for _, l := range plan.lines {
		if !replaced[l.Name] {
			newLines = append(newLines, l)
		}
	}
	jr.Packages = newLines
	if err := ct.writeJournal(jr); err != nil {
		for _, d := range created {
			os.RemoveAll(d)
		}
		return nil, nil, err
	}
	rep, err := ct.apply(jr)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: update stopped halfway (%v); the next ezctl command on it finishes it", ct.ID, err)
	}
	ct.invalidate(opts, rep)
	if err := ct.configure(ctx, run, installed, nil, run.Env(), opts); err != nil {
		return ups, rep, err
	}
	if err := ct.runScripts(ctx, affected, "post-upgrade", run.Env(), opts); err != nil {
		return ups, rep, err
	}
	return ups, rep, nil
}

// diff plans moving a container from one installed version of a package
// to another.
func (jr *journal) diff(area *tmpl.Area, old, nw *repo.Installed) {
	oldBy := map[string]*archive.Entry{}
	for i := range old.Entries {
		oldBy[old.Entries[i].Path] = &old.Entries[i]
	}
	seen := map[string]bool{}
	for i := range nw.Entries {
		e := &nw.Entries[i]
		seen[e.Path] = true
		o := oldBy[e.Path]
		switch {
		case o != nil && o.Type == 'f' && e.Type == 'f':
			jr.Relink = append(jr.Relink, relink{Path: e.Path, Old: tmpl.LinkValue(area, old, o), New: tmpl.LinkValue(area, nw, e)})
		case o == nil:
			pe := planEntry{Entry: *e}
			if e.Type == 'f' {
				pe.Value = tmpl.LinkValue(area, nw, e)
			}
			jr.Add = append(jr.Add, pe)
		}
	}
	for _, o := range old.Entries {
		if !seen[o.Path] && o.Type == 'f' {
			jr.Remove = append(jr.Remove, relink{Path: o.Path, Old: tmpl.LinkValue(area, old, &o)})
		}
	}
}
