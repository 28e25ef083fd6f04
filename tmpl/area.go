package tmpl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ezfs/ezfs/tmpl/internal/dirs"
)

// Area is a template area on disk.
type Area struct {
	Root string // absolute
}

// ErrNoTemplate is returned for a template that is not installed.
var ErrNoTemplate = errors.New("template not installed")

// ErrAmbiguous is returned for an application template name that several
// OS templates have.
var ErrAmbiguous = errors.New("ambiguous template name")

// AreaMode is the template area's own mode: closed to every user but
// root, as /var/lib/docker is. Package files keep their modes (setuid
// programs, device nodes) for the containers, which reach them through
// their mounts; a host user must not reach them at all.
const AreaMode = 0o700

// Seal closes an existing area to other users if it is open (an area
// made by an earlier version was 0755); a missing area is no error.
func (a *Area) Seal() error { return dirs.Seal(a.Root) }

// CacheDir holds the cache tarballs.
func (a *Area) CacheDir() string { return filepath.Join(a.Root, "cache") }

// CachePath is the cache tarball of an OS template.
func (a *Area) CachePath(name string) string { return filepath.Join(a.CacheDir(), name+".tar.gz") }

// findConfigDirs returns every template config directory below root,
// relative to it: <os>/<ver>/<arch>/config/{os/<set>,app/<app>/<set>}.
func findConfigDirs(root string) ([]string, error) {
	var out []string
	for _, pattern := range []string{"*/*/*/config/os/*", "*/*/*/config/app/*/*"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return nil, err
		}
		for _, p := range m {
			if st, err := os.Stat(p); err != nil || !st.IsDir() || strings.HasPrefix(filepath.Base(p), ".") {
				continue
			}
			rel, _ := filepath.Rel(root, p)
			if strings.Contains(rel, "/.") || strings.HasPrefix(rel, ".") {
				continue // staging and cache directories
			}
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Templates loads every installed template. A broken one is reported in
// errs and left out; the rest are still listed.
func (a *Area) Templates() (ts []*Template, errs []error) {
	dirs, err := findConfigDirs(a.Root)
	if err != nil {
		return nil, []error{err}
	}
	for _, rel := range dirs {
		id, err := ParseConfigDir(rel)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t, err := LoadTemplate(filepath.Join(a.Root, rel), id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ts = append(ts, t)
	}
	return ts, errs
}

// Find returns the installed template called name: an OS template name,
// an application template name where only one OS has it, or a full name
// "<os>-<ver>-<arch>:<app>".
func (a *Area) Find(name string) (*Template, error) {
	name = strings.TrimPrefix(name, ".")
	ts, errs := a.Templates()
	var found []*Template
	for _, t := range ts {
		if t.Name() == name || t.FullName() == name {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		for _, err := range errs {
			if strings.Contains(err.Error(), " "+name+" (") {
				return nil, err // installed but broken: say why
			}
		}
		return nil, fmt.Errorf("%w: %s (see ezctl template list; install it with ezctl template install PATH)", ErrNoTemplate, name)
	}
	var names []string
	for _, t := range found {
		names = append(names, t.FullName())
	}
	return nil, fmt.Errorf("%w: %s is one of %s; name it in full", ErrAmbiguous, name, strings.Join(names, ", "))
}

// FindApp returns the application template name for the OS of base.
func (a *Area) FindApp(base TemplateID, name string) (*Template, error) {
	name = strings.TrimPrefix(name, ".")
	if strings.Contains(name, ":") {
		return a.Find(name)
	}
	return a.Find(base.OSName() + ":" + name)
}

// Stack returns the stack of an OS template (base, or set on its base).
func (a *Area) Stack(name string) (*Stack, error) {
	t, err := a.Find(name)
	if err != nil {
		return nil, err
	}
	if !t.IsOS() {
		return nil, fmt.Errorf("%s is an %s, not an OS template", t.FullName(), t.Kind())
	}
	if t.Kind() == OSBase {
		return &Stack{Base: t}, nil
	}
	base, err := a.Find(t.Base().Name())
	if err != nil {
		return nil, fmt.Errorf("OS template set %s: its base: %w", t.Name(), err)
	}
	return &Stack{Base: base, Layers: []*Template{t}}, nil
}

// tempName is a staging name beside final: ".new-<base>-<pid>".
func tempName(final, kind string) string {
	return filepath.Join(filepath.Dir(final), fmt.Sprintf(".%s-%s-%d", kind, filepath.Base(final), os.Getpid()))
}

// cleanStale removes staging debris (.new-*, .old-*) an interrupted run
// left in dir.
func cleanStale(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, ".new-") || strings.HasPrefix(n, ".old-") {
			os.RemoveAll(filepath.Join(dir, n))
		}
	}
}

// isDirEmpty reports whether dir has no entries (or does not exist).
func isDirEmpty(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err != nil && errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0
}
