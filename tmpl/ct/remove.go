package ct

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/repo"
)

// Remove takes application templates out of the container: the link
// entries of their packages (files the container changed are kept and
// reported), their records; pre-remove and post-remove run inside.
// Packages another package of the container still needs stay.
func (ct *CT) Remove(ctx context.Context, names []string, opts Options) (*Report, error) {
	st, _, unlock, err := ct.begin()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var removing []*tmpl.Template
	for _, n := range names {
		n = strings.TrimPrefix(n, ".")
		if n == ct.OSTemplate || n == st.Base.Name() {
			return nil, fmt.Errorf("%s is the OS template of container %s; an OS template cannot be removed from a container", n, ct.ID)
		}
		var found *tmpl.Template
		for _, t := range st.Layers {
			if t.Name() == n && !t.IsOS() {
				found = t
			}
		}
		if found == nil {
			return nil, fmt.Errorf("container %s has no application template %s (it has: %s)", ct.ID, n, strings.Join(ct.Apps, " "))
		}
		removing = append(removing, found)
	}
	gone := namesOf(removing)
	lines, inst, err := ct.installedPackages(filepath.Join(ct.Area.Root, st.Base.ArchDir()))
	if err != nil {
		return nil, err
	}
	if err := ct.runScripts(ctx, removing, "pre-remove", st.Environment(), opts); err != nil {
		return nil, err
	}
	var dropped []string
	jr := &journal{Op: "remove"}
	for _, a := range ct.Apps {
		if !slices.Contains(gone, a) {
			jr.Apps = append(jr.Apps, a)
		}
	}
	for _, l := range lines {
		if !slices.Contains(gone, l.Template) {
			jr.Packages = append(jr.Packages, l)
			continue
		}
		if user := neededBy(l.Name, lines, inst, gone); user != "" {
			l.Template = user
			jr.Packages = append(jr.Packages, l)
			continue
		}
		ip := inst[l.Name]
		dropped = append(dropped, l.Name)
		for i := range ip.Entries {
			if e := &ip.Entries[i]; e.Type == 'f' {
				jr.Remove = append(jr.Remove, relink{Path: e.Path, Old: tmpl.LinkValue(ct.Area, ip, e)})
			}
		}
	}
	if err := ct.writeJournal(jr); err != nil {
		return nil, err
	}
	rep, err := ct.apply(jr)
	if err != nil {
		return nil, fmt.Errorf("container %s: remove stopped halfway (%v); the next ezctl command on it finishes it", ct.ID, err)
	}
	ct.invalidate(opts, rep)
	if err := ct.refreshAptSources(opts); err != nil {
		return rep, err
	}
	if run, err := ct.Area.NewRun(st, opts.Reporter); err == nil {
		if err := ct.configure(ctx, run, nil, dropped, st.Environment(), opts); err != nil {
			return rep, err
		}
	}
	if err := ct.runScripts(ctx, removing, "post-remove", st.Environment(), opts); err != nil {
		return rep, err
	}
	return rep, nil
}

// neededBy returns the template of a package that stays and depends on
// name, or "".
func neededBy(name string, lines []tmpl.PkgLine, inst map[string]*repo.Installed, gone []string) string {
	for _, l := range lines {
		if slices.Contains(gone, l.Template) || l.Name == name {
			continue
		}
		p, err := repo.PackageFromStanza(inst[l.Name].Control)
		if err != nil {
			continue
		}
		for _, c := range append(p.PreDepends, p.Depends...) {
			for _, r := range c {
				if r.Name == name {
					return l.Template
				}
			}
		}
	}
	return ""
}
