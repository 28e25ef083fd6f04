package repo

import (
	"fmt"
	"strings"
)

// UnsatisfiableError says which package cannot be installed and why.
type UnsatisfiableError struct {
	Package string // who needs it ("" for the template's own list)
	Clause  Clause
	Why     string
}

func (e *UnsatisfiableError) Error() string {
	who := "the template"
	if e.Package != "" {
		who = e.Package
	}
	return fmt.Sprintf("cannot satisfy %s, needed by %s: %s", e.Clause, who, e.Why)
}

// Resolve returns the packages to install for the given package names
// (each may be a relation: "name", "name (>= 1.2)", "a | b"), with every
// Depends and Pre-Depends satisfied: the newest matching version of a
// package, else the first provider of a virtual one. Packages come out
// in an order where dependencies precede their users where they can.
func (ix *Index) Resolve(want []string) ([]*Package, error) {
	r := ix.NewResolver()
	for _, w := range want {
		clauses, err := ParseRelations(w)
		if err != nil {
			return nil, fmt.Errorf("package list: %w", err)
		}
		for _, c := range clauses {
			if err := r.Satisfy(c, ""); err != nil {
				return nil, err
			}
		}
	}
	return r.order, nil
}

// Resolver chooses packages one clause at a time, each with what it
// needs; Select seeds it with packages chosen before (a container's).
type Resolver struct {
	ix       *Index
	selected map[string]*Package
	order    []*Package
}

func (r *Resolver) satisfied(rel Relation) bool {
	if p := r.selected[rel.Name]; p != nil && rel.Matches(p.Version) {
		return true
	}
	for _, p := range r.ix.providers[rel.Name] {
		if r.selected[p.Name] != p {
			continue
		}
		for _, pr := range p.Provides {
			if pr.Name == rel.Name && (rel.Op == "" || pr.Op == "=" && rel.Matches(pr.Version)) {
				return true
			}
		}
	}
	return false
}

// Satisfy chooses what makes clause c hold, unless it holds already;
// from names who needs it, for errors ("" for the template's own list).
func (r *Resolver) Satisfy(c Clause, from string) error {
	for _, rel := range c {
		if r.satisfied(rel) {
			return nil
		}
	}
	var why []string
	for _, rel := range c {
		if p := r.ix.Newest(rel); p != nil {
			if old := r.selected[p.Name]; old != nil {
				why = append(why, fmt.Sprintf("%s %s is already chosen", old.Name, old.Version))
				continue
			}
			return r.choose(p)
		}
		if p := r.bestProvider(rel); p != nil {
			return r.choose(p)
		}
		switch vs := r.ix.Versions(rel.Name); {
		case len(vs) > 0:
			why = append(why, fmt.Sprintf("the repositories have %s %s", rel.Name, strings.Join(vs, ", ")))
		case len(r.ix.providers[rel.Name]) > 0:
			why = append(why, fmt.Sprintf("no provider of %s fits", rel.Name))
		default:
			why = append(why, fmt.Sprintf("no package %s in the repositories", rel.Name))
		}
	}
	return &UnsatisfiableError{Package: from, Clause: c, Why: strings.Join(why, "; ")}
}

// bestProvider returns a provider of the virtual package rel: the first
// providing package name in index order, at its newest version that
// provides it (a security update provides what the release did).
func (r *Resolver) bestProvider(rel Relation) *Package {
	var best *Package
	for _, p := range r.ix.providers[rel.Name] {
		if r.selected[p.Name] != nil || best != nil && p.Name != best.Name {
			continue
		}
		for _, pr := range p.Provides {
			if pr.Name == rel.Name && (rel.Op == "" || pr.Op == "=" && rel.Matches(pr.Version)) {
				if best == nil || CompareVersions(p.Version, best.Version) > 0 {
					best = p
				}
			}
		}
	}
	return best
}

func (r *Resolver) choose(p *Package) error {
	r.selected[p.Name] = p
	for _, c := range append(append([]Clause{}, p.PreDepends...), p.Depends...) {
		if err := r.Satisfy(c, p.Name+" "+p.Version); err != nil {
			return err
		}
	}
	r.order = append(r.order, p)
	return nil
}

// NewResolver starts a resolution over the index.
func (ix *Index) NewResolver() *Resolver {
	return &Resolver{ix: ix, selected: map[string]*Package{}}
}

// Select treats p as chosen already, with what it provides, without
// choosing its dependencies.
func (r *Resolver) Select(p *Package) {
	r.selected[p.Name] = p
	for _, pr := range p.Provides {
		r.ix.providers[pr.Name] = append(r.ix.providers[pr.Name], p)
	}
}

// Chosen lists the packages Satisfy chose, dependencies before their
// users where they can be; Select's are not among them.
func (r *Resolver) Chosen() []*Package { return r.order }
