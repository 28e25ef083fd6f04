package ct

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/repo"
)

// Install adds application templates to the container: their packages
// are installed in the area where missing (shared by every container),
// their files linked in, the records updated, and pre-install and
// post-install run inside.
func (ct *CT) Install(ctx context.Context, names []string, opts Options) (rep *Report, err error) {
	st, recovered, unlock, err := ct.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var adding []*tmpl.Template
	for _, n := range names {
		t, err := ct.Area.FindApp(st.Base.TemplateID, n)
		if err != nil {
			return nil, err
		}
		if t.IsOS() {
			return nil, fmt.Errorf("%s is an OS template; containers get theirs at create", t.Name())
		}
		if slices.Contains(ct.Apps, t.Name()) {
			if recovered != nil {
				continue // an interrupted run of this very command, finished by recover
			}
			return nil, fmt.Errorf("container %s has %s already", ct.ID, t.Name())
		}
		adding = append(adding, t)
	}
	if len(adding) == 0 {
		return recovered, nil
	}
	st.Layers = append(st.Layers, adding...)
	ps, err := ct.loadPkgState(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	owner := map[string]string{}
	r := seeded(ps.ix, ps.inst, nil)
	for _, t := range adding {
		before := len(r.Chosen())
		for _, w := range t.Packages {
			clauses, err := repo.ParseRelations(w)
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", t.Name(), err)
			}
			for _, c := range clauses {
				if err := r.Satisfy(c, ""); err != nil {
					return nil, fmt.Errorf("template %s: %w", t.Name(), err)
				}
			}
		}
		for _, p := range r.Chosen()[before:] {
			owner[p.Name] = t.Name()
		}
	}
	if err := ct.runScripts(ctx, adding, "pre-install", ps.run.Env(), opts); err != nil {
		return nil, err
	}
	installed, created, err := ps.run.Ensure(ctx, r.Chosen())
	if err != nil {
		return nil, err
	}
	jr := &journal{Op: "install", Add: planAdd(ct.Area, installed), Packages: ps.lines}
	for _, ip := range installed {
		jr.Packages = append(jr.Packages, tmpl.PkgLine{Name: ip.Name, Version: ip.Version, Arch: ip.Arch, Template: owner[ip.Name]})
	}
	jr.Apps = append(append([]string(nil), ct.Apps...), namesOf(adding)...)
	if err := ct.writeJournal(jr); err != nil {
		for _, d := range created {
			os.RemoveAll(d)
		}
		return nil, err
	}
	rep, err = ct.apply(jr)
	if err != nil {
		return nil, fmt.Errorf("container %s: install stopped halfway (%v); the next ezctl command on it finishes it", ct.ID, err)
	}
	ct.invalidate(opts, rep)
	if err := ct.refreshAptSources(opts); err != nil {
		return rep, err
	}
	if err := ct.configure(ctx, ps.run, installed, nil, ps.run.Env(), opts); err != nil {
		return rep, err
	}
	if err := ct.runScripts(ctx, adding, "post-install", ps.run.Env(), opts); err != nil {
		return rep, err
	}
	return rep, nil
}
