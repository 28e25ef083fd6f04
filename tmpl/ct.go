package tmpl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"golang.org/x/sys/unix"
)

// CT is a container's private area, opened for a command.
type CT struct {
	Area       *Area
	Cfg        *Config
	ID         string
	Private    string // VE_PRIVATE
	Root       string // VE_PRIVATE/root, the container's tree
	OSTemplate string
	Apps       []string
}

// CTOptions is what container operations need from the command line.
type CTOptions struct {
	Reporter Reporter
	Mount    MountFunc // for a cache that has to be created first
	// InContainer runs fn with the container's root mounted (mounting it
	// for the while if it is not).
	InContainer func(fn func(root string) error) error
	// Invalidate drops a mounted container's kernel caches of paths;
	// nil when it is not mounted.
	Invalidate func(paths []string) error
}

// Errors of container operations.
var (
	ErrNoContainer     = errors.New("no such container")
	ErrContainerExists = errors.New("container exists")
	ErrContainerBusy   = errors.New("container busy")
)

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// CheckCTID says what is wrong with a container id: every command that
// takes one checks it first, as the id becomes a path element of
// VE_PRIVATE and VE_ROOT ("../x" would name another directory).
func CheckCTID(id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("bad container id %q: letters, digits, _ . - (at most 64, starting with a letter or digit)", id)
	}
	return nil
}

// OpenCT opens container id.
func (a *Area) OpenCT(cfg *Config, id string) (*CT, error) {
	if err := CheckCTID(id); err != nil {
		return nil, err
	}
	c, err := LoadContainer(cfg, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %s (no %s in %s); create it with: ezctl create %s --ostemplate NAME",
			ErrNoContainer, id, VEConfFile, cfg.Private(id), id)
	}
	// A private area holds the container's setuid programs and device
	// nodes: closed to host users (an area made by an older version may
	// be open).
	if os.Geteuid() == 0 {
		if err := sealDir(c.Private); err != nil {
			return nil, fmt.Errorf("container %s: %w", id, err)
		}
	}
	return &CT{Area: a, Cfg: cfg, ID: id, Private: c.Private, Root: filepath.Join(c.Private, "root"),
		OSTemplate: c.OSTemplate, Apps: c.Apps}, nil
}

// lock takes the container's lock, or says who holds it; an operation
// interrupted earlier is finished first.
func (ct *CT) lock() (func(), error) {
	p := filepath.Join(ct.Private, ".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(p)
		f.Close()
		return nil, fmt.Errorf("%w: container %s is being changed by another ezctl (pid %s); wait for it to finish",
			ErrContainerBusy, ct.ID, strings.TrimSpace(string(holder)))
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Truncate(0); unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// saveApps rewrites ve.conf with TEMPLATES set to apps, keeping every
// other variable.
func (ct *CT) saveApps(apps []string) error {
	p := filepath.Join(ct.Private, VEConfFile)
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	vars, order, err := ParseShellVars(f, p)
	f.Close()
	if err != nil {
		return err
	}
	dotted := ""
	for _, a := range apps {
		dotted += " ." + a
	}
	if _, ok := vars["TEMPLATES"]; !ok {
		order = append(order, "TEMPLATES")
	}
	vars["TEMPLATES"] = dotted
	var b bytes.Buffer
	for _, k := range order {
		b.WriteString(FormatShellVar(k, vars[k]) + "\n")
	}
	if err := atomicWrite(p, b.Bytes()); err != nil {
		return err
	}
	ct.Apps = apps
	return nil
}

// Create makes container id from the cache of an OS template (creating
// the cache first if it is missing): the private area is unpacked beside
// its place, or on btrfs snapshotted from the template's seed (seed.go),
// and renamed in, so it exists whole or not at all.
func (a *Area) Create(ctx context.Context, cfg *Config, id, ostemplate string, opts CTOptions) (*CT, error) {
	rep := opts.Reporter
	if rep == nil {
		rep = Quiet{}
	}
	if err := CheckCTID(id); err != nil {
		return nil, err
	}
	private := cfg.Private(id)
	if _, err := os.Lstat(private); err == nil {
		return nil, fmt.Errorf("%w: %s (%s); destroy it first with: ezctl destroy %s", ErrContainerExists, id, private, id)
	}
	st, err := a.Stack(ostemplate)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(ostemplate, ".")
	if len(st.Layers) > 0 {
		name = st.Layers[0].Name()
	} else {
		name = st.Base.Name()
	}
	cache := a.CachePath(name)
	if _, err := os.Stat(cache); err != nil {
		rep.Step("no cache of %s yet: creating it", name)
		if _, err := a.CreateCache(ctx, name, CacheOptions{Reporter: rep, Mount: opts.Mount}); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(private), 0o755); err != nil {
		return nil, err
	}
	parent := filepath.Dir(private)
	stageName := fmt.Sprintf(".new-%s-%d", filepath.Base(private), os.Getpid())
	stage := filepath.Join(parent, stageName)
	removeTree(parent, stageName)
	ok := false
	defer func() {
		if !ok {
			removeTree(parent, stageName)
		}
	}()
	snap, err := snapshotCache(cfg, name, cache, parent, stageName, rep)
	if err != nil {
		return nil, err
	}
	if !snap {
		if err := os.Mkdir(stage, 0o700); err != nil {
			return nil, err
		}
		if err := ExtractCache(cache, stage); err != nil {
			return nil, err
		}
	}
	conf := FormatShellVar("OSTEMPLATE", "."+name) + "\n" + FormatShellVar("TEMPLATES", "") + "\n"
	if err := writeFileSync(filepath.Join(stage, VEConfFile), []byte(conf)); err != nil {
		return nil, err
	}
	if err := WriteNetworkFiles(filepath.Join(stage, "root"), Network{}.withDefaults(id)); err != nil {
		return nil, fmt.Errorf("create %s: %w", id, err)
	}
	if _, err := WriteAptSources(filepath.Join(stage, "root"), st); err != nil {
		return nil, fmt.Errorf("create %s: %w", id, err)
	}
	if err := os.Chmod(stage, 0o700); err != nil {
		return nil, err
	}
	failpoint("create", 1)
	if err := os.Rename(stage, private); err != nil {
		return nil, fmt.Errorf("create %s: %w", id, err)
	}
	ok = true
	syncDir(filepath.Dir(private))
	os.MkdirAll(cfg.Root(id), 0o755)
	return a.OpenCT(cfg, id)
}

// stack is the container's OS stack with its application templates (and
// extra ones) on top.
func (ct *CT) stack(extra ...*Template) (*Stack, error) {
	st, err := ct.Area.Stack(ct.OSTemplate)
	if err != nil {
		return nil, fmt.Errorf("container %s: its OS template: %w", ct.ID, err)
	}
	for _, name := range ct.Apps {
		t, err := ct.Area.FindApp(st.Base.ID, name)
		if err != nil {
			return nil, fmt.Errorf("container %s: its template %s: %w", ct.ID, name, err)
		}
		st.Layers = append(st.Layers, t)
	}
	st.Layers = append(st.Layers, extra...)
	return st, nil
}

// installedPackages loads the container's packages from the area.
func (ct *CT) installedPackages(archDir string) ([]PkgLine, map[string]*Installed, error) {
	lines, err := loadVZPackages(ct.Private)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", ct.ID, err)
	}
	inst := map[string]*Installed{}
	for _, l := range lines {
		ip, err := LoadInstalled(filepath.Join(archDir, l.Key()))
		if err != nil {
			return nil, nil, fmt.Errorf("container %s: package %s %s is not in the template area (%v); run ezctl fsck %s", ct.ID, l.Name, l.Version, err, ct.ID)
		}
		inst[l.Name] = ip
	}
	return lines, inst, nil
}

// seeded returns a resolver that treats the container's packages as
// chosen already.
func seeded(ix *Index, inst map[string]*Installed, skip func(string) bool) *resolver {
	r := &resolver{ix: ix, selected: map[string]*Package{}}
	for name, ip := range inst {
		if skip != nil && skip(name) {
			continue
		}
		if p, err := PackageFromStanza(ip.Control); err == nil {
			r.selected[name] = p
			for _, pr := range p.Provides {
				ix.providers[pr.Name] = append(ix.providers[pr.Name], p)
			}
		}
	}
	return r
}

// planAdd lists the entries packages bring into a container.
func planAdd(area *Area, pkgs []*Installed) []planEntry {
	var out []planEntry
	for _, p := range pkgs {
		for _, e := range p.Entries {
			pe := planEntry{Entry: e}
			if e.Type == 'f' {
				pe.Value = LinkValue(area, p, &e)
			}
			out = append(out, pe)
		}
	}
	return out
}

// runScripts runs a script of each template inside the container.
func (ct *CT) runScripts(ctx context.Context, ts []*Template, script string, env []string, opts CTOptions) error {
	runs := withScript(ts, script)
	if len(runs) == 0 {
		return nil
	}
	if opts.InContainer == nil {
		return fmt.Errorf("container %s: %s has a %s script but there is no way to enter the container", ct.ID, runs[0].FullName(), script)
	}
	return opts.InContainer(func(root string) error {
		for _, t := range runs {
			if err := runInContainer(ctx, root, ct.ID, t, script, env); err != nil {
				return err
			}
		}
		return nil
	})
}

// runInContainer copies a template script into the mounted container and
// runs it there in a chroot, with the environment.
func runInContainer(ctx context.Context, root, ctid string, t *Template, script string, env []string) error {
	data, err := os.ReadFile(t.Scripts[script])
	if err != nil {
		return err
	}
	// The script goes to the container's /tmp as the chroot will see it:
	// resolved inside the container (its symlinks lead into it, never to
	// the host), created new (O_EXCL|O_NOFOLLOW).
	rel := "tmp/" + fmt.Sprintf(".ezfs-%s-%d", script, os.Getpid())
	r, err := atfile.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.MkdirAll("tmp", 0o1777); err != nil {
		return fmt.Errorf("container %s: cannot copy the %s script into its /tmp: %w", ctid, script, err)
	}
	r.Remove(rel) // left by an earlier run of this pid
	if err := r.Create(rel, data, 0o700); err != nil {
		return fmt.Errorf("container %s: cannot copy the %s script into its /tmp: %w", ctid, script, err)
	}
	defer r.Remove(rel)
	cmd := exec.CommandContext(ctx, "chroot", root, "/"+rel)
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "VEID=" + ctid, "CTID=" + ctid, "HOME=/root"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return &ScriptError{Template: t.FullName(), Script: script, Err: err, Output: out.String()}
	}
	return nil
}

func (ct *CT) invalidate(opts CTOptions, rep *Report) {
	if opts.Invalidate != nil && rep != nil && len(rep.Changed) > 0 {
		paths := append([]string(nil), rep.Changed...)
		for _, k := range rep.New {
			paths = append(paths, k)
		}
		if err := opts.Invalidate(paths); err != nil && opts.Reporter != nil {
			opts.Reporter.Step("warning: container %s: could not invalidate the mount's caches: %v", ct.ID, err)
		}
	}
}

// Install adds application templates to the container: their packages
// are installed in the area where missing (shared by every container),
// their files linked in, the records updated, and pre-install and
// post-install run inside.
func (ct *CT) Install(ctx context.Context, names []string, opts CTOptions) (rep *Report, err error) {
	unlock, err := ct.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	recovered, err := ct.recover()
	if err != nil {
		return nil, err
	}
	base, err := ct.Area.Stack(ct.OSTemplate)
	if err != nil {
		return nil, err
	}
	var adding []*Template
	for _, n := range names {
		t, err := ct.Area.FindApp(base.Base.ID, n)
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
	st, err := ct.stack(adding...)
	if err != nil {
		return nil, err
	}
	m, err := managerFor(st.PackageManager())
	if err != nil {
		return nil, err
	}
	j := ct.Area.newJob(st, opts.Reporter)
	lines, inst, err := ct.installedPackages(j.archDir)
	if err != nil {
		return nil, err
	}
	ix, err := j.index(ctx, m)
	if err != nil {
		return nil, err
	}
	var newPkgs []*Package
	owner := map[string]string{}
	r := seeded(ix, inst, nil)
	for _, t := range adding {
		before := len(r.order)
		for _, w := range t.Packages {
			clauses, err := ParseRelations(w)
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", t.Name(), err)
			}
			for _, c := range clauses {
				if err := r.satisfy(c, ""); err != nil {
					return nil, fmt.Errorf("template %s: %w", t.Name(), err)
				}
			}
		}
		for _, p := range r.order[before:] {
			owner[p.Name] = t.Name()
		}
	}
	newPkgs = r.order
	if err := ct.runScripts(ctx, adding, "pre-install", j.env, opts); err != nil {
		return nil, err
	}
	installed, created, err := j.ensurePackages(ctx, m, newPkgs)
	if err != nil {
		return nil, err
	}
	jr := &journal{Op: "install", Add: planAdd(ct.Area, installed), Packages: lines}
	for _, ip := range installed {
		jr.Packages = append(jr.Packages, PkgLine{ip.Name, ip.Version, ip.Arch, owner[ip.Name]})
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
	if err := ct.configure(ctx, m, installed, nil, j.env, opts); err != nil {
		return rep, err
	}
	if err := ct.runScripts(ctx, adding, "post-install", j.env, opts); err != nil {
		return rep, err
	}
	return rep, nil
}

// configure registers packages in the container's package database and
// configures them inside it, for package managers that have one.
func (ct *CT) configure(ctx context.Context, m Manager, add []*Installed, drop []string, env []string, opts CTOptions) error {
	db, ok := m.(packageDB)
	if !ok || len(add) == 0 && len(drop) == 0 {
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
		if err := db.Register(root, ct.Area, add, false); err != nil {
			return err
		}
		return db.Configure(ctx, root, add, env)
	})
}

func namesOf(ts []*Template) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return out
}

// Update is one package moving to a newer version.
type Update struct {
	Name, From, To, Template string
}

// plannedUpdates returns what update would do, with what it needs to do it.
func (ct *CT) plannedUpdates(ctx context.Context, only []string, opts CTOptions) ([]Update, *job, Manager, []*Package, map[string]*Installed, []PkgLine, *Stack, error) {
	st, err := ct.stack()
	if err != nil {
		return nil, nil, nil, nil, nil, nil, nil, err
	}
	m, err := managerFor(st.PackageManager())
	if err != nil {
		return nil, nil, nil, nil, nil, nil, nil, err
	}
	j := ct.Area.newJob(st, opts.Reporter)
	lines, inst, err := ct.installedPackages(j.archDir)
	if err != nil {
		return nil, nil, nil, nil, nil, nil, nil, err
	}
	ix, err := j.index(ctx, m)
	if err != nil {
		return nil, nil, nil, nil, nil, nil, nil, err
	}
	for _, o := range only {
		if !slices.Contains(ct.Apps, strings.TrimPrefix(o, ".")) && o != ct.OSTemplate {
			return nil, nil, nil, nil, nil, nil, nil, fmt.Errorf("container %s has no template %s", ct.ID, o)
		}
	}
	var ups []Update
	updating := map[string]bool{}
	for _, l := range lines {
		if len(only) > 0 && !slices.Contains(only, l.Template) {
			continue
		}
		if p := ix.Newest(Relation{Name: l.Name}); p != nil && CompareVersions(p.Version, l.Version) > 0 {
			ups = append(ups, Update{Name: l.Name, From: l.Version, To: p.Version, Template: l.Template})
			updating[l.Name] = true
		}
	}
	if len(ups) == 0 {
		return nil, j, m, nil, inst, lines, st, nil
	}
	r := seeded(ix, inst, func(n string) bool { return updating[n] })
	for _, u := range ups {
		if err := r.satisfy(Clause{{Name: u.Name, Op: "=", Version: u.To}}, ""); err != nil {
			return nil, nil, nil, nil, nil, nil, nil, err
		}
	}
	return ups, j, m, r.order, inst, lines, st, nil
}

// Status lists the updates the container's templates offer.
func (ct *CT) Status(ctx context.Context, opts CTOptions) ([]Update, error) {
	ups, _, _, _, _, _, _, err := ct.plannedUpdates(ctx, nil, opts)
	return ups, err
}

// Update moves the container's packages (of the given templates, or all)
// to the newest versions in its repositories: files still linked to the
// old version are relinked, files the container changed are kept with
// the new version beside them as FILE.ezfs-new, new files are linked,
// dropped ones removed where untouched.
func (ct *CT) Update(ctx context.Context, only []string, opts CTOptions) ([]Update, *Report, error) {
	unlock, err := ct.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if _, err := ct.recover(); err != nil {
		return nil, nil, err
	}
	for i := range only {
		only[i] = strings.TrimPrefix(only[i], ".")
	}
	ups, j, m, pkgs, inst, lines, st, err := ct.plannedUpdates(ctx, only, opts)
	if err != nil || len(ups) == 0 {
		return nil, nil, err
	}
	affected := []*Template{}
	for _, t := range append([]*Template{st.Base}, st.Layers...) {
		for _, u := range ups {
			if u.Template == t.Name() && !slices.Contains(affected, t) {
				affected = append(affected, t)
			}
		}
	}
	if err := ct.runScripts(ctx, affected, "pre-upgrade", j.env, opts); err != nil {
		return nil, nil, err
	}
	installed, created, err := j.ensurePackages(ctx, m, pkgs)
	if err != nil {
		return nil, nil, err
	}
	jr := &journal{Op: "update", Apps: ct.Apps}
	owner := map[string]string{}
	for _, l := range lines {
		owner[l.Name] = l.Template
	}
	newLines := []PkgLine{}
	replaced := map[string]bool{}
	for _, ip := range installed {
		replaced[ip.Name] = true
		old := inst[ip.Name]
		if old == nil {
			jr.Add = append(jr.Add, planAdd(ct.Area, []*Installed{ip})...)
		} else {
			jr.diff(ct.Area, old, ip)
		}
		t := owner[ip.Name]
		if t == "" {
			t = ups[0].Template
		}
		newLines = append(newLines, PkgLine{ip.Name, ip.Version, ip.Arch, t})
	}
	for _, l := range lines {
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
	if err := ct.configure(ctx, m, installed, nil, j.env, opts); err != nil {
		return ups, rep, err
	}
	if err := ct.runScripts(ctx, affected, "post-upgrade", j.env, opts); err != nil {
		return ups, rep, err
	}
	return ups, rep, nil
}

// diff plans moving a container from one installed version of a package
// to another.
func (jr *journal) diff(area *Area, old, nw *Installed) {
	oldBy := map[string]*Entry{}
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
			jr.Relink = append(jr.Relink, relink{Path: e.Path, Old: LinkValue(area, old, o), New: LinkValue(area, nw, e)})
		case o == nil:
			pe := planEntry{Entry: *e}
			if e.Type == 'f' {
				pe.Value = LinkValue(area, nw, e)
			}
			jr.Add = append(jr.Add, pe)
		}
	}
	for _, o := range old.Entries {
		if !seen[o.Path] && o.Type == 'f' {
			jr.Remove = append(jr.Remove, relink{Path: o.Path, Old: LinkValue(area, old, &o)})
		}
	}
}

// Remove takes application templates out of the container: the link
// entries of their packages (files the container changed are kept and
// reported), their records; pre-remove and post-remove run inside.
// Packages another package of the container still needs stay.
func (ct *CT) Remove(ctx context.Context, names []string, opts CTOptions) (*Report, error) {
	unlock, err := ct.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := ct.recover(); err != nil {
		return nil, err
	}
	st, err := ct.stack()
	if err != nil {
		return nil, err
	}
	var removing []*Template
	for _, n := range names {
		n = strings.TrimPrefix(n, ".")
		if n == ct.OSTemplate || n == st.Base.Name() {
			return nil, fmt.Errorf("%s is the OS template of container %s; an OS template cannot be removed from a container", n, ct.ID)
		}
		var found *Template
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
	lines, inst, err := ct.installedPackages(ct.Area.newJob(st, nil).archDir)
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
				jr.Remove = append(jr.Remove, relink{Path: e.Path, Old: LinkValue(ct.Area, ip, e)})
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
	if m, err := managerFor(st.PackageManager()); err == nil {
		if err := ct.configure(ctx, m, nil, dropped, st.Environment(), opts); err != nil {
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
func neededBy(name string, lines []PkgLine, inst map[string]*Installed, gone []string) string {
	for _, l := range lines {
		if slices.Contains(gone, l.Template) || l.Name == name {
			continue
		}
		p, err := PackageFromStanza(inst[l.Name].Control)
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

// Destroy removes a container's private area; it must not be mounted.
func (a *Area) Destroy(cfg *Config, id string, mounted bool) error {
	ct, err := a.OpenCT(cfg, id)
	if err != nil {
		return err
	}
	if mounted {
		return fmt.Errorf("container %s is mounted at %s; unmount it first with: ezctl umount %s", id, cfg.Root(id), id)
	}
	unlock, err := ct.lock()
	if err != nil {
		return err
	}
	gone := filepath.Join(filepath.Dir(ct.Private), fmt.Sprintf(".destroy-%s-%d", filepath.Base(ct.Private), os.Getpid()))
	err = os.Rename(ct.Private, gone)
	unlock()
	if err != nil {
		return err
	}
	if err := removeTree(filepath.Dir(gone), filepath.Base(gone)); err != nil {
		return err
	}
	os.Remove(cfg.Root(id))
	return nil
}
