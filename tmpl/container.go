package tmpl

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Container is what a private area says of itself in ve.conf.
type Container struct {
	ID         string
	Private    string
	OSTemplate string   // without the leading dot
	Apps       []string // application templates, without dots
}

// VEConfFile is the container's config in its private area.
const VEConfFile = "ve.conf"

// Containers lists the private areas of the node: the directories that
// VE_PRIVATE names, for any VEID, which hold a ve.conf.
func Containers(cfg *VZConf) ([]*Container, error) {
	pattern := expandVEID(cfg.VEPrivate, "*")
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var out []*Container
	prefix, suffix, _ := strings.Cut(cfg.VEPrivate, "$VEID")
	if strings.Contains(cfg.VEPrivate, "${VEID}") {
		prefix, suffix, _ = strings.Cut(cfg.VEPrivate, "${VEID}")
	}
	for _, m := range matches {
		id := strings.TrimSuffix(strings.TrimPrefix(m, prefix), suffix)
		if CheckCTID(id) != nil {
			continue // staging (.new-*), or not a container's directory
		}
		ct, err := LoadContainer(cfg, id)
		if err != nil {
			continue
		}
		out = append(out, ct)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// LoadContainer reads the ve.conf of container id.
func LoadContainer(cfg *VZConf, id string) (*Container, error) {
	if err := CheckCTID(id); err != nil {
		return nil, err
	}
	priv := cfg.Private(id)
	f, err := os.OpenFile(filepath.Join(priv, VEConfFile), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars, _, err := ParseShellVars(f, filepath.Join(priv, VEConfFile))
	if err != nil {
		return nil, err
	}
	ct := &Container{ID: id, Private: priv, OSTemplate: strings.TrimPrefix(vars["OSTEMPLATE"], ".")}
	for _, t := range strings.Fields(vars["TEMPLATES"]) {
		ct.Apps = append(ct.Apps, strings.TrimPrefix(t, "."))
	}
	return ct, nil
}

// Uses reports whether the container is built on template t.
func (ct *Container) Uses(t *Template) bool {
	if t.IsOS() {
		return ct.OSTemplate == t.Name() || t.Kind() == OSBase && strings.HasPrefix(ct.OSTemplate, t.Name()+"-")
	}
	if ct.OSTemplate != t.Base().Name() && !strings.HasPrefix(ct.OSTemplate, t.Base().Name()+"-") {
		return false
	}
	for _, a := range ct.Apps {
		if a == t.Name() || a == t.FullName() {
			return true
		}
	}
	return false
}

// ContainersUsing returns the ids of containers built on t.
func ContainersUsing(cfg *VZConf, t *Template) []string {
	cts, _ := Containers(cfg)
	ids := []string{}
	for _, ct := range cts {
		if ct.Uses(t) {
			ids = append(ids, ct.ID)
		}
	}
	return ids
}

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
