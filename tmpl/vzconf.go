package tmpl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/tmpl/btrfs"
)

// VZConf is where a node keeps its templates and containers: the vz.conf
// variables ezctl uses.
type VZConf struct {
	Template  string // TEMPLATE, the template area
	VEPrivate string // VE_PRIVATE, with $VEID for the container id
	VERoot    string // VE_ROOT, with $VEID
	Source    string // the file it was read from, or "--vz DIR"
}

// DefaultVZConfPath is read when neither --conf nor EZFS_CONF says otherwise.
const DefaultVZConfPath = "/etc/vz/vz.conf"

// VZConfDefaults are the values of variables a vz.conf leaves out.
var VZConfDefaults = VZConf{Template: "/vz/template", VEPrivate: "/vz/private/$VEID", VERoot: "/vz/root/$VEID"}

// LoadVZConf reads a vz.conf. A missing file at the default path means
// the defaults; a missing file named explicitly is an error.
func LoadVZConf(path string, explicit bool) (*VZConf, error) {
	c := VZConfDefaults
	c.Source = path
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		c.Source = "defaults (no " + path + ")"
		return &c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read vz.conf: %w", err)
	}
	defer f.Close()
	vars, _, err := ParseShellVars(f, path)
	if err != nil {
		return nil, err
	}
	for key, dst := range map[string]*string{"TEMPLATE": &c.Template, "VE_PRIVATE": &c.VEPrivate, "VE_ROOT": &c.VERoot} {
		if v, ok := vars[key]; ok && v != "" {
			*dst = v
		}
	}
	for key, v := range map[string]string{"TEMPLATE": c.Template, "VE_PRIVATE": c.VEPrivate, "VE_ROOT": c.VERoot} {
		if !filepath.IsAbs(v) {
			return nil, fmt.Errorf("%s: %s=%q is not an absolute path", path, key, v)
		}
	}
	for key, v := range map[string]string{"VE_PRIVATE": c.VEPrivate, "VE_ROOT": c.VERoot} {
		if !strings.Contains(v, "$VEID") && !strings.Contains(v, "${VEID}") {
			return nil, fmt.Errorf("%s: %s=%q does not contain $VEID", path, key, v)
		}
	}
	return &c, nil
}

// VZDirConf is the --vz DIR layout: everything under one directory.
func VZDirConf(dir string) (*VZConf, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &VZConf{
		Template:  filepath.Join(abs, "template"),
		VEPrivate: filepath.Join(abs, "private", "$VEID"),
		VERoot:    filepath.Join(abs, "root", "$VEID"),
		Source:    "--vz " + abs,
	}, nil
}

func expandVEID(pattern, ctid string) string {
	return strings.NewReplacer("${VEID}", ctid, "$VEID", ctid).Replace(pattern)
}

// Private is the private area of container ctid.
func (c *VZConf) Private(ctid string) string { return expandVEID(c.VEPrivate, ctid) }

// Root is where container ctid is mounted.
func (c *VZConf) Root(ctid string) string { return expandVEID(c.VERoot, ctid) }

// SeedDir is the directory where the btrfs seeds of the private areas
// live (beside them), or "" when VE_PRIVATE does not keep them in one
// directory.
func (c *VZConf) SeedDir() string {
	a, b := filepath.Dir(c.Private("a")), filepath.Dir(c.Private("b"))
	if a != b {
		return ""
	}
	return a
}

// DropSeeds deletes the seeds of template's cache; call it when the
// cache is rebuilt or removed.
func DropSeeds(cfg *VZConf, template string) {
	if p := cfg.SeedDir(); p != "" {
		btrfs.DropSeeds(p, strings.TrimPrefix(template, "."), "")
	}
}
