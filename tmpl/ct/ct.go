package ct

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/btrfs"
	"github.com/ezfs/ezfs/tmpl/internal/dirs"
	"github.com/ezfs/ezfs/tmpl/internal/failpoint"
	"golang.org/x/sys/unix"
)

// CT is a container's private area, opened for a command.
type CT struct {
	Area       *tmpl.Area
	Cfg        *tmpl.VZConf
	ID         string
	Private    string // VE_PRIVATE
	Root       string // VE_PRIVATE/root, the container's tree
	OSTemplate string
	Apps       []string
}

// Options is what container operations need from the command line.
type Options struct {
	Reporter tmpl.Reporter
	Mount    tmpl.MountFunc // for a cache that has to be created first
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

// Open opens container id of the area a.
func Open(a *tmpl.Area, cfg *tmpl.VZConf, id string) (*CT, error) {
	if err := tmpl.CheckCTID(id); err != nil {
		return nil, err
	}
	c, err := tmpl.LoadContainer(cfg, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %s (no %s in %s); create it with: ezctl create %s --ostemplate NAME",
			ErrNoContainer, id, tmpl.VEConfFile, cfg.Private(id), id)
	}
	// A private area holds the container's setuid programs and device
	// nodes: closed to host users (an area made by an older version may
	// be open).
	if os.Geteuid() == 0 {
		if err := dirs.Seal(c.Private); err != nil {
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
	p := filepath.Join(ct.Private, tmpl.VEConfFile)
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	vars, order, err := tmpl.ParseShellVars(f, p)
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
		b.WriteString(tmpl.FormatShellVar(k, vars[k]) + "\n")
	}
	if err := atfile.WriteFile(p, b.Bytes(), 0o644); err != nil {
		return err
	}
	ct.Apps = apps
	return nil
}

// Create makes container id from the cache of an OS template (creating
// the cache first if it is missing): the private area is unpacked beside
// its place, or on btrfs snapshotted from the template's seed (seed.go),
// and renamed in, so it exists whole or not at all.
func Create(ctx context.Context, a *tmpl.Area, cfg *tmpl.VZConf, id, ostemplate string, opts Options) (*CT, error) {
	rep := opts.Reporter
	if rep == nil {
		rep = tmpl.Quiet{}
	}
	if err := tmpl.CheckCTID(id); err != nil {
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
	var name string
	if len(st.Layers) > 0 {
		name = st.Layers[0].Name()
	} else {
		name = st.Base.Name()
	}
	cache := a.CachePath(name)
	if _, err := os.Stat(cache); err != nil {
		rep.Step("no cache of %s yet: creating it", name)
		if _, err := a.CreateCache(ctx, name, tmpl.CacheOptions{Reporter: rep, Mount: opts.Mount}); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(private), 0o755); err != nil {
		return nil, err
	}
	parent := filepath.Dir(private)
	stageName := fmt.Sprintf(".new-%s-%d", filepath.Base(private), os.Getpid())
	stage := filepath.Join(parent, stageName)
	btrfs.RemoveTree(parent, stageName)
	ok := false
	defer func() {
		if !ok {
			btrfs.RemoveTree(parent, stageName)
		}
	}()
	snap := false
	if cfg.SeedDir() == parent {
		if snap, err = btrfs.SnapshotSeed(name, cache, parent, stageName, rep.Step); err != nil {
			return nil, err
		}
	}
	if !snap {
		if err := os.Mkdir(stage, 0o700); err != nil {
			return nil, err
		}
		if err := archive.ExtractCache(cache, stage); err != nil {
			return nil, err
		}
	}
	conf := tmpl.FormatShellVar("OSTEMPLATE", "."+name) + "\n" + tmpl.FormatShellVar("TEMPLATES", "") + "\n"
	if err := atfile.WriteFile(filepath.Join(stage, tmpl.VEConfFile), []byte(conf), 0o644); err != nil {
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
	failpoint.Hit("create", 1)
	if err := os.Rename(stage, private); err != nil {
		return nil, fmt.Errorf("create %s: %w", id, err)
	}
	ok = true
	dirs.Sync(filepath.Dir(private))
	os.MkdirAll(cfg.Root(id), 0o755)
	return Open(a, cfg, id)
}

// stack is the container's OS stack with its application templates (and
// extra ones) on top.
func (ct *CT) stack(extra ...*tmpl.Template) (*tmpl.Stack, error) {
	st, err := ct.Area.Stack(ct.OSTemplate)
	if err != nil {
		return nil, fmt.Errorf("container %s: its OS template: %w", ct.ID, err)
	}
	for _, name := range ct.Apps {
		t, err := ct.Area.FindApp(st.Base.TemplateID, name)
		if err != nil {
			return nil, fmt.Errorf("container %s: its template %s: %w", ct.ID, name, err)
		}
		st.Layers = append(st.Layers, t)
	}
	st.Layers = append(st.Layers, extra...)
	return st, nil
}

// begin opens an operation on the container's packages: it takes the
// container's lock, finishes first what a crash interrupted, and returns
// the container's stack as it is after that. recovered is the report of
// the finished operation, nil when there was none. Install, update and
// remove all start here.
func (ct *CT) begin() (st *tmpl.Stack, recovered *Report, unlock func(), err error) {
	unlock, err = ct.lock()
	if err != nil {
		return nil, nil, nil, err
	}
	if recovered, err = ct.recover(); err == nil {
		st, err = ct.stack()
	}
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	return st, recovered, unlock, nil
}

// Destroy removes a container's private area; it must not be mounted.
func Destroy(a *tmpl.Area, cfg *tmpl.VZConf, id string, mounted bool) error {
	ct, err := Open(a, cfg, id)
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
	if err := btrfs.RemoveTree(filepath.Dir(gone), filepath.Base(gone)); err != nil {
		return err
	}
	os.Remove(cfg.Root(id))
	return nil
}
