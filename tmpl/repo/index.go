package repo

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/ezfs/ezfs/tmpl/deb822"
)

// Package is one package of a repository index.
type Package struct {
	Name, Version, Arch string
	Depends, PreDepends []Clause
	Provides            []Relation
	Priority            string
	Essential           bool
	Description         string
	Filename            string // relative to the repository's base
	Size                int64
	SHA256              string
	Source              *Source       // the repository it came from
	Stanza              deb822.Stanza // as the index has it
}

// Key is the package's directory name in the area: name_version_arch,
// with ":" of an epoch written %3a.
func (p *Package) Key() string {
	return p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + p.Arch
}

func (p *Package) String() string { return p.Name + " " + p.Version + " (" + p.Arch + ")" }

// PackageFromStanza reads the fields every package manager shares.
func PackageFromStanza(s deb822.Stanza) (*Package, error) {
	p := &Package{
		Name: s.Get("Package"), Version: s.Get("Version"), Arch: s.Get("Architecture"),
		Priority: s.Get("Priority"), Essential: s.Get("Essential") == "yes",
		Description: s.Get("Description"), Filename: s.Get("Filename"), SHA256: strings.ToLower(s.Get("SHA256")),
		Stanza: s,
	}
	if p.Name == "" || p.Version == "" || p.Arch == "" {
		return nil, fmt.Errorf("stanza without Package, Version or Architecture: %q", p.Name)
	}
	if err := CheckKey(p.Name, p.Version, p.Arch); err != nil {
		return nil, err
	}
	if err := checkFilename(p.Filename); err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	var err error
	if p.Depends, err = ParseRelations(s.Get("Depends")); err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	if p.PreDepends, err = ParseRelations(s.Get("Pre-Depends")); err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	provides, err := ParseRelations(s.Get("Provides"))
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", p.Name, err)
	}
	for _, c := range provides {
		p.Provides = append(p.Provides, c...)
	}
	if sz := s.Get("Size"); sz != "" {
		if p.Size, err = strconv.ParseInt(sz, 10, 64); err != nil || p.Size < 0 {
			return nil, fmt.Errorf("package %s: bad Size %q", p.Name, sz)
		}
	}
	return p, nil
}

// Index is the packages of a template's repositories for one
// architecture.
type Index struct {
	Arch      string // e.g. amd64; packages of architecture "all" fit too
	byName    map[string][]*Package
	providers map[string][]*Package
}

// NewIndex makes an empty index for arch.
func NewIndex(arch string) *Index {
	return &Index{Arch: arch, byName: map[string][]*Package{}, providers: map[string][]*Package{}}
}

// Add puts a package in the index unless its architecture does not fit.
// An earlier repository's package wins over the same name and version
// from a later one.
func (ix *Index) Add(p *Package) {
	if p.Arch != ix.Arch && p.Arch != "all" {
		return
	}
	for _, q := range ix.byName[p.Name] {
		if q.Version == p.Version {
			return
		}
	}
	ix.byName[p.Name] = append(ix.byName[p.Name], p)
	for _, pr := range p.Provides {
		ix.providers[pr.Name] = append(ix.providers[pr.Name], p)
	}
}

// ReadIndex adds the stanzas of a Packages file to ix.
func (ix *Index) ReadIndex(r io.Reader, src *Source, name string) error {
	stanzas, err := deb822.Parse(r, name)
	if err != nil {
		return err
	}
	for _, s := range stanzas {
		p, err := PackageFromStanza(s)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p.Source = src
		ix.Add(p)
	}
	return nil
}

// Len is the number of package versions in the index.
func (ix *Index) Len() int {
	n := 0
	for _, ps := range ix.byName {
		n += len(ps)
	}
	return n
}

// Newest returns the newest version of name satisfying r, or nil.
func (ix *Index) Newest(r Relation) *Package {
	var best *Package
	for _, p := range ix.byName[r.Name] {
		if r.Matches(p.Version) && (best == nil || CompareVersions(p.Version, best.Version) > 0) {
			best = p
		}
	}
	return best
}

// Versions lists the versions of name, newest first.
func (ix *Index) Versions(name string) []string {
	var vs []string
	for _, p := range ix.byName[name] {
		vs = append(vs, p.Version)
	}
	sort.Slice(vs, func(i, j int) bool { return CompareVersions(vs[i], vs[j]) > 0 })
	return vs
}

// Required returns the packages marked Priority: required (the Debian
// base system), newest versions.
func (ix *Index) Required() []string {
	var out []string
	for name, ps := range ix.byName {
		for _, p := range ps {
			if p.Priority == "required" || p.Essential {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
