package tmpl

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Kind is what a template is.
type Kind int

const (
	OSBase Kind = iota // config/os/default: <os>-<ver>-<arch>
	OSSet              // config/os/<set>: <os>-<ver>-<arch>-<set>
	App                // config/app/<app>/default: <app>
	AppSet             // config/app/<app>/<set>: <app>-<set>
)

func (k Kind) String() string {
	return [...]string{"base OS template", "OS template set", "application template", "application template set"}[k]
}

// TemplateID says where a template lives in the area, which is what
// names it: <os>/<ver>/<arch>/config/{os/<set>,app/<app>/<set>}.
type TemplateID struct {
	OS, Ver, Arch string
	App           string // "" for OS templates
	Set           string // "" for the default
}

// Kind tells the TemplateID's kind.
func (id TemplateID) Kind() Kind {
	switch {
	case id.App == "" && id.Set == "":
		return OSBase
	case id.App == "":
		return OSSet
	case id.Set == "":
		return App
	}
	return AppSet
}

// OSName is the name of the base OS template of the TemplateID.
func (id TemplateID) OSName() string { return id.OS + "-" + id.Ver + "-" + id.Arch }

// Name is the template's name as users write it.
func (id TemplateID) Name() string {
	switch id.Kind() {
	case OSBase:
		return id.OSName()
	case OSSet:
		return id.OSName() + "-" + id.Set
	case App:
		return id.App
	}
	return id.App + "-" + id.Set
}

// FullName names an application template unambiguously across OSes:
// "<os>-<ver>-<arch>:<app>[-<set>]". OS template names are already unique.
func (id TemplateID) FullName() string {
	if id.App == "" {
		return id.Name()
	}
	return id.OSName() + ":" + id.Name()
}

// ArchDir is the <os>/<ver>/<arch> directory, relative to the area.
func (id TemplateID) ArchDir() string { return filepath.Join(id.OS, id.Ver, id.Arch) }

// ConfigDir is the template's config directory, relative to the area.
func (id TemplateID) ConfigDir() string {
	set := id.Set
	if set == "" {
		set = "default"
	}
	if id.App == "" {
		return filepath.Join(id.ArchDir(), "config", "os", set)
	}
	return filepath.Join(id.ArchDir(), "config", "app", id.App, set)
}

// Base is the TemplateID of the base OS template this one builds on.
func (id TemplateID) Base() TemplateID { return TemplateID{OS: id.OS, Ver: id.Ver, Arch: id.Arch} }

// IsOS reports whether the TemplateID is an OS template (base or set).
func (id TemplateID) IsOS() bool { return id.App == "" }

// ErrBadLayout marks a path that is not a template config directory.
var ErrBadLayout = errors.New("not a template config directory")

// ParseConfigDir reads an TemplateID from a config directory path relative to the
// area: <os>/<ver>/<arch>/config/os/<set> or .../config/app/<app>/<set>.
func ParseConfigDir(rel string) (TemplateID, error) {
	el := strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/")
	var id TemplateID
	switch {
	case len(el) == 6 && el[3] == "config" && el[4] == "os":
		id = TemplateID{OS: el[0], Ver: el[1], Arch: el[2], Set: el[5]}
	case len(el) == 7 && el[3] == "config" && el[4] == "app":
		id = TemplateID{OS: el[0], Ver: el[1], Arch: el[2], App: el[5], Set: el[6]}
	default:
		return TemplateID{}, fmt.Errorf("%w: %s (want <os>/<ver>/<arch>/config/os/<set> or .../config/app/<app>/<set>)", ErrBadLayout, rel)
	}
	if id.Set == "default" {
		id.Set = ""
	}
	for _, part := range []string{id.OS, id.Ver, id.Arch, id.App, id.Set} {
		if strings.HasPrefix(part, ".") || strings.ContainsAny(part, " :\t\n") {
			return TemplateID{}, fmt.Errorf("%w: %s (element %q)", ErrBadLayout, rel, part)
		}
	}
	return id, nil
}
