package repo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/deb822"
)

// Installed is a package in the area: its files at their container paths
// under Dir, and its manifest and control stanza under Dir/.ezfs.
type Installed struct {
	Name, Version, Arch string
	Key                 string // directory name
	Dir                 string // absolute
	Entries             []archive.Entry
	Control             deb822.Stanza
}

// RelDir is the package directory relative to the template area at
// areaRoot.
func (p *Installed) RelDir(areaRoot string) string {
	rel, _ := filepath.Rel(areaRoot, p.Dir)
	return rel
}

// A package directory keeps its records beside its files, in a
// directory no archive may write.
const (
	MetaDir      = ".ezfs"
	ManifestFile = ".ezfs/manifest"
	ControlFile  = ".ezfs/control"
)

// IsMeta reports whether an archive member lies in MetaDir: read (as a
// tar package's control) but never unpacked.
func IsMeta(p string) bool { return p == MetaDir || strings.HasPrefix(p, MetaDir+"/") }

// LoadInstalled reads an installed package directory.
func LoadInstalled(dir string) (*Installed, error) {
	mf, err := os.Open(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", filepath.Base(dir), err)
	}
	defer mf.Close()
	entries, err := archive.ReadManifest(mf, filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	cdata, err := os.ReadFile(filepath.Join(dir, ControlFile))
	if err != nil {
		return nil, err
	}
	st, err := deb822.Parse(bytes.NewReader(cdata), filepath.Join(dir, ControlFile))
	if err != nil || len(st) != 1 {
		return nil, fmt.Errorf("package %s: bad control file (%v)", filepath.Base(dir), err)
	}
	c := st[0]
	if err := CheckKey(c.Get("Package"), c.Get("Version"), c.Get("Architecture")); err != nil {
		return nil, fmt.Errorf("package %s: %s: %w", filepath.Base(dir), ControlFile, err)
	}
	return &Installed{Name: c.Get("Package"), Version: c.Get("Version"), Arch: c.Get("Architecture"),
		Key: filepath.Base(dir), Dir: dir, Entries: entries, Control: c}, nil
}
