package tmpl

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ezfs/ezfs/tmpl/apt"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/repo"
	"github.com/ezfs/ezfs/tmpl/tarpm"
)

// Manager is a package manager: how repositories are written, indexed and
// fetched, and how a package archive is unpacked. Resolution, downloads,
// verification and the layout in the area are shared (packages.go).
type Manager interface {
	// ParseSource reads one repositories line (which may stand for
	// several sources, as "host" does).
	ParseSource(line string) ([]*repo.Source, error)
	// LoadIndex reads the index of every source, downloading what it
	// must into f.PMDir.
	LoadIndex(ctx context.Context, f *repo.Fetch, sources []*repo.Source) (*repo.Index, error)
	// Unpack writes the files of a downloaded package archive below the
	// directory dst (open as dstfd) and returns the package's control
	// stanza and every path it wrote.
	Unpack(file string, dstfd int, dst string) (deb822.Stanza, []archive.Entry, error)
	// Base lists packages every cache of the index holds besides the
	// template's own (Debian: Priority required).
	Base(ix *repo.Index) []string
}

func managerFor(name string) (Manager, error) {
	switch name {
	case "tar":
		return tarpm.Manager{}, nil
	case "dpkg":
		return apt.Dpkg{}, nil
	}
	return nil, fmt.Errorf("unknown package manager %q", name)
}

// job is one run of a package manager for a template stack.
type job struct {
	area    *Area
	stack   *Stack
	archDir string // absolute <os>/<ver>/<arch>
	pmDir   string // absolute <os>/<ver>/<arch>/pm
	arch    string // package architecture (amd64)
	env     []string
	rep     Reporter
	fetch   *repo.Fetcher
}

func (a *Area) newJob(st *Stack, rep Reporter) *job {
	if rep == nil {
		rep = Quiet{}
	}
	archDir := filepath.Join(a.Root, st.Base.ArchDir())
	return &job{area: a, stack: st, archDir: archDir, pmDir: filepath.Join(archDir, "pm"),
		arch: repo.PackageArch(st.Base.Arch), env: st.Environment(), rep: rep, fetch: repo.DefaultFetcher}
}

// sources reads the stack's repositories, plus those its mirrorlists list.
func (j *job) sources(ctx context.Context, m Manager) ([]*repo.Source, error) {
	lines := j.stack.Repositories()
	for _, u := range j.stack.Mirrorlists() {
		more, err := j.fetch.FetchMirrorlist(ctx, u)
		if err != nil {
			return nil, err
		}
		lines = append(lines, more...)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("template %s: no repository (repositories and mirrorlist are empty)", j.stack.Base.Name())
	}
	var out []*repo.Source
	for _, l := range lines {
		ss, err := m.ParseSource(l)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", j.stack.Base.Name(), err)
		}
		out = append(out, ss...)
	}
	return out, nil
}

// PackageDB is a package manager with a package database in the
// container (dpkg's /var/lib/dpkg), which needs the container prepared
// before packages are laid out, and its packages registered and
// configured inside it afterwards.
type PackageDB interface {
	// PrepareRoot readies an empty container tree (the merged /usr
	// symlinks of Debian).
	PrepareRoot(rootfd int) error
	// Register records packages in the container's database below root;
	// link makes its files link entries (root is a private tree, not
	// mounted), else copies (root is a mount).
	Register(root, areaRoot string, pkgs []*repo.Installed, link bool) error
	// Configure runs the packages' maintainer scripts in a chroot of the
	// mounted container.
	Configure(ctx context.Context, mnt string, pkgs []*repo.Installed, env []string) error
	// Unregister takes packages out of the database below root.
	Unregister(root string, names []string) error
}

// index reads the index of the stack's repositories (and mirrorlists).
func (j *job) index(ctx context.Context, m Manager) (*repo.Index, error) {
	sources, err := j.sources(ctx, m)
	if err != nil {
		return nil, err
	}
	return m.LoadIndex(ctx, &repo.Fetch{Fetcher: j.fetch, PMDir: j.pmDir, Arch: j.arch, Step: j.rep.Step}, sources)
}

// WithScript returns the templates that have the script, in order.
func WithScript(ts []*Template, script string) []*Template {
	var out []*Template
	for _, t := range ts {
		if _, ok := t.Scripts[script]; ok {
			out = append(out, t)
		}
	}
	return out
}

// Run is one run of the package manager of a template stack, for what
// works on a container's packages: the index of the stack's
// repositories, packages installed into the area, the container's
// package database.
type Run struct {
	*job
	m Manager
}

// NewRun starts a run for st; rep may be nil.
func (a *Area) NewRun(st *Stack, rep Reporter) (*Run, error) {
	m, err := managerFor(st.PackageManager())
	if err != nil {
		return nil, err
	}
	return &Run{job: a.newJob(st, rep), m: m}, nil
}

// Index reads the index of the stack's repositories (and mirrorlists).
func (r *Run) Index(ctx context.Context) (*repo.Index, error) { return r.index(ctx, r.m) }

// Ensure installs the packages missing from the area and returns them
// all, in order, with the directories it created (for the caller to
// remove if its larger operation fails).
func (r *Run) Ensure(ctx context.Context, pkgs []*repo.Package) ([]*repo.Installed, []string, error) {
	return r.ensurePackages(ctx, r.m, pkgs)
}

// Env is the stack's environment for scripts and package managers.
func (r *Run) Env() []string { return r.env }

// ArchDir is the stack's <os>/<ver>/<arch> directory, absolute: where its
// packages are.
func (r *Run) ArchDir() string { return r.archDir }

// DB is the package manager's database in containers, or nil for one
// that keeps none.
func (r *Run) DB() PackageDB {
	db, _ := r.m.(PackageDB)
	return db
}
