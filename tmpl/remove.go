package tmpl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrInUse is returned for a template that containers use.
var ErrInUse = errors.New("template in use")

// RemoveTemplate removes a template that no container uses: its config,
// for an OS template its cache, and the packages no container and no
// cache still lists. Removing the last template of an OS removes that
// OS's packages and package manager data too.
func (a *Area) RemoveTemplate(cfg *VZConf, name string) (string, error) {
	t, err := a.Find(name)
	if err != nil {
		return "", err
	}
	if users := ContainersUsing(cfg, t); len(users) > 0 {
		return "", fmt.Errorf("%w: %s is used by container %s; destroy them, or remove the template from them, first",
			ErrInUse, t.FullName(), strings.Join(users, ", "))
	}
	all, _ := a.Templates()
	var dependents []string
	for _, o := range all {
		if o.TemplateID != t.TemplateID && o.Base() == t.Base() && t.Kind() == OSBase {
			dependents = append(dependents, o.FullName())
		}
	}
	if len(dependents) > 0 {
		return "", fmt.Errorf("%s is the base of %s; remove them first", t.Name(), strings.Join(dependents, ", "))
	}
	unlock, err := a.lockCache()
	if err != nil {
		return "", err
	}
	defer unlock()
	dir := filepath.Join(a.Root, t.ConfigDir())
	old := tempName(dir, "old")
	if err := os.Rename(dir, old); err != nil {
		return "", err
	}
	if err := os.RemoveAll(old); err != nil {
		return "", err
	}
	if t.IsOS() {
		os.Remove(a.CachePath(t.Name()))
		os.Remove(a.CachePath(t.Name()) + "-old")
		DropSeeds(cfg, t.Name())
	}
	if t.Kind() != OSBase {
		if _, err := a.gcPackages(cfg, t.Base()); err != nil {
			return t.FullName(), fmt.Errorf("removed %s, but not its packages: %w", t.FullName(), err)
		}
	} else {
		// Nothing of this OS is left: its packages go too.
		arch := filepath.Join(a.Root, t.ArchDir())
		gone := tempName(arch, "old")
		if err := os.Rename(arch, gone); err == nil {
			os.RemoveAll(gone)
		}
		for d := filepath.Dir(arch); d != a.Root && isDirEmpty(d); d = filepath.Dir(d) {
			os.Remove(d)
		}
	}
	return t.FullName(), nil
}
