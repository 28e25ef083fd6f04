package tmpl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/internal/dirs"
	"github.com/ezfs/ezfs/tmpl/repo"
	"golang.org/x/sys/unix"
)

// MountFunc mounts a private tree over the template area at mountpoint;
// the returned function unmounts it. Cache creation runs the template's
// scripts against a staging container mounted this way.
type MountFunc func(template, private, mountpoint string) (unmount func() error, err error)

// CacheOptions configures cache creation.
type CacheOptions struct {
	Update   bool // replace an existing cache, keeping it as .tar.gz-old
	Reporter Reporter
	Mount    MountFunc
}

// CacheResult describes a cache written.
type CacheResult struct {
	Path     string
	Packages []*repo.Installed
	Files    int   // link entries
	Bytes    int64 // of the tarball
	New      []string
}

// ErrCacheExists is returned by cache create for a cached template.
var ErrCacheExists = errors.New("cache exists")

// ErrNoCache is returned for a template that has no cache.
var ErrNoCache = errors.New("no cache")

// VZPackagesFile is where a private area lists its packages.
const VZPackagesFile = "templates/vzpackages"

// lockCache serialises cache operations on one area. The lock is the
// area directory itself (flock), so taking it changes nothing on disk.
func (a *Area) lockCache() (func(), error) {
	f, err := os.Open(a.Root)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another cache or template operation is running on %s; wait for it", a.Root)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// CreateCache installs the packages of an OS template (base, or set on
// its base) into the area and writes the cache tarball containers are
// created from. On any failure the previous cache and the area are left
// as they were: packages it unpacked are removed again.
func (a *Area) CreateCache(ctx context.Context, name string, opts CacheOptions) (res *CacheResult, err error) {
	rep := opts.Reporter
	if rep == nil {
		rep = Quiet{}
	}
	st, err := a.Stack(name)
	if err != nil {
		return nil, err
	}
	osName := st.Base.Name()
	if len(st.Layers) > 0 {
		osName = st.Layers[0].Name()
	}
	final := a.CachePath(osName)
	if _, err := os.Stat(final); err == nil && !opts.Update {
		return nil, fmt.Errorf("%w: %s; rebuild it with: ezctl cache update %s", ErrCacheExists, final, osName)
	}
	unlock, err := a.lockCache()
	if err != nil {
		return nil, err
	}
	defer unlock()

	m, err := managerFor(st.PackageManager())
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", st.Base.Name(), err)
	}
	j := a.newJob(st, rep)
	rep.Step("reading the repositories of %s", osName)
	ix, err := j.index(ctx, m)
	if err != nil {
		return nil, err
	}
	pkgs, err := ix.Resolve(append(m.Base(ix), st.Packages()...))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", osName, err)
	}
	rep.Step("%d packages to install (%d in the repositories)", len(pkgs), ix.Len())

	newCacheDir := isDirEmpty(a.CacheDir())
	if err := os.MkdirAll(a.CacheDir(), 0o755); err != nil {
		return nil, err
	}
	if err := a.Seal(); err != nil {
		return nil, err
	}
	cleanStale(a.CacheDir())
	stage := filepath.Join(a.CacheDir(), fmt.Sprintf(".new-%s-%d", osName, os.Getpid()))
	priv, mnt := filepath.Join(stage, "private"), filepath.Join(stage, "mnt")
	for _, d := range []string{filepath.Join(priv, "root"), filepath.Join(priv, "templates"), mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	var created []string
	defer func() {
		os.RemoveAll(stage)
		if err != nil {
			for _, d := range created {
				os.RemoveAll(d)
			}
			if newCacheDir {
				os.Remove(a.CacheDir()) // only if still empty
			}
		}
	}()
	ctid := "cache-" + osName
	staged := func(what string, fn func() error) error {
		if opts.Mount == nil {
			return fmt.Errorf("template %s: %s needs the staging container mounted, and there is nothing to mount it with", osName, what)
		}
		unmount, err := opts.Mount(a.Root, filepath.Join(priv, "root"), mnt)
		if err != nil {
			return fmt.Errorf("mount the staging container: %w", err)
		}
		err = fn()
		if uerr := unmount(); err == nil && uerr != nil {
			err = fmt.Errorf("unmount the staging container: %w", uerr)
		}
		return err
	}
	scripts := func(script string) error {
		runs := WithScript(append([]*Template{st.Base}, st.Layers...), script)
		if len(runs) == 0 {
			return nil
		}
		rep.Step("running %s against the staging container", script)
		return staged(script, func() error {
			for _, t := range runs {
				if err := runScript(ctx, t, script, mnt, ctid, j.env); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err = scripts("pre-cache"); err != nil {
		return nil, err
	}
	installed, created, err := j.ensurePackages(ctx, m, pkgs)
	if err != nil {
		return nil, err
	}
	rep.Step("laying out %d packages as link entries", len(installed))
	db, hasDB := m.(PackageDB)
	files, err := a.layout(filepath.Join(priv, "root"), installed, rep, db)
	if err != nil {
		return nil, err
	}
	if hasDB {
		if err = db.Register(filepath.Join(priv, "root"), a.Root, installed, true); err != nil {
			return nil, err
		}
		rep.Step("configuring %d packages inside the staging container", len(installed))
		if err = staged("configuring packages", func() error { return db.Configure(ctx, mnt, installed, j.env) }); err != nil {
			return nil, err
		}
	}
	var lines []PkgLine
	for _, ip := range installed {
		lines = append(lines, PkgLine{ip.Name, ip.Version, ip.Arch, osName})
	}
	if err = SaveVZPackages(priv, lines); err != nil {
		return nil, err
	}
	if err = scripts("post-cache"); err != nil {
		return nil, err
	}
	rep.Step("writing %s", final)
	size, err := a.commitCache(priv, final)
	if err != nil {
		return nil, err
	}
	return &CacheResult{Path: final, Packages: installed, Files: files, Bytes: size, New: created}, nil
}

// layout builds the container tree of the packages and returns how many
// link entries it made.
func (a *Area) layout(root string, pkgs []*repo.Installed, rep Reporter, db PackageDB) (int, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if db != nil {
		if err := db.PrepareRoot(fd); err != nil {
			return 0, err
		}
	}
	sk := NewSkeleton(fd, a)
	warnings := 0
	sk.Warning = func(format string, args ...any) {
		if warnings++; warnings <= 5 {
			rep.Step("note: "+format, args...)
		}
	}
	defer func() {
		if warnings > 5 {
			rep.Step("note: %d more files replaced by a later package", warnings-5)
		}
	}()
	files := 0
	for _, p := range pkgs {
		if err := sk.Add(p); err != nil {
			return 0, err
		}
		for _, e := range p.Entries {
			if e.Type == 'f' {
				files++
			}
		}
	}
	return files, nil
}

// commitCache writes the tarball of the staging private area beside its
// place, then renames it in; an older cache becomes .tar.gz-old.
func (a *Area) commitCache(priv, final string) (int64, error) {
	// The package files this run unpacked into the area go to disk
	// before a cache that links to them can: after a power cut a cache
	// never points at files that were lost. It also leaves the creates
	// that follow no one else's data to write out (see ExtractCache).
	if err := dirs.SyncFS(priv); err != nil {
		return 0, fmt.Errorf("sync the template area: %w", err)
	}
	dirfd, err := atfile.OpenDirPath(filepath.Dir(final))
	if err != nil {
		return 0, err
	}
	defer unix.Close(dirfd)
	var size int64
	name := filepath.Base(final)
	err = atfile.WriteAt(dirfd, name, atfile.WriteOptions{Mode: 0o600, Backup: name + "-old"}, func(f *os.File) error {
		if err := archive.WriteTree(f, priv); err != nil {
			return err
		}
		size, err = f.Seek(0, io.SeekCurrent)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("write cache: %w", err)
	}
	return size, nil
}

// RemoveCache deletes an OS template's cache (and the one it replaced).
func (a *Area) RemoveCache(name string) error {
	name = strings.TrimPrefix(name, ".")
	if name == "" || strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("bad template name %q", name)
	}
	p := a.CachePath(name)
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("%w for %s (%s)", ErrNoCache, name, p)
	}
	unlock, err := a.lockCache()
	if err != nil {
		return err
	}
	defer unlock()
	os.Remove(p + "-old")
	return os.Remove(p)
}
