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

// ID says where a template lives in the area, which is what names it.
type ID struct {
	OS, Ver, Arch string
	App           string // "" for OS templates
	Set           string // "" for the default
}

// Kind tells the ID's kind.
func (id ID) Kind() Kind {
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

// OSName is the name of the base OS template of the ID.
func (id ID) OSName() string { return id.OS + "-" + id.Ver + "-" + id.Arch }

// Name is the template's name as users write it.
func (id ID) Name() string {
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
func (id ID) FullName() string {
	if id.App == "" {
		return id.Name()
	}
	return id.OSName() + ":" + id.Name()
}

// ArchDir is the <os>/<ver>/<arch> directory, relative to the area.
func (id ID) ArchDir() string { return filepath.Join(id.OS, id.Ver, id.Arch) }

// ConfigDir is the template's config directory, relative to the area.
func (id ID) ConfigDir() string {
	set := id.Set
	if set == "" {
		set = "default"
	}
	if id.App == "" {
		return filepath.Join(id.ArchDir(), "config", "os", set)
	}
	return filepath.Join(id.ArchDir(), "config", "app", id.App, set)
}

// Base is the ID of the base OS template this one builds on.
func (id ID) Base() ID { return ID{OS: id.OS, Ver: id.Ver, Arch: id.Arch} }

// IsOS reports whether the ID is an OS template (base or set).
func (id ID) IsOS() bool { return id.App == "" }

// ErrBadLayout marks a path that is not a template config directory.
var ErrBadLayout = errors.New("not a template config directory")

// ParseConfigDir reads an ID from a config directory path relative to the
// area: <os>/<ver>/<arch>/config/os/<set> or .../config/app/<app>/<set>.
func ParseConfigDir(rel string) (ID, error) {
	el := strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/")
	var id ID
	switch {
	case len(el) == 6 && el[3] == "config" && el[4] == "os":
		id = ID{OS: el[0], Ver: el[1], Arch: el[2], Set: el[5]}
	case len(el) == 7 && el[3] == "config" && el[4] == "app":
		id = ID{OS: el[0], Ver: el[1], Arch: el[2], App: el[5], Set: el[6]}
	default:
		return ID{}, fmt.Errorf("%w: %s (want <os>/<ver>/<arch>/config/os/<set> or .../config/app/<app>/<set>)", ErrBadLayout, rel)
	}
	if id.Set == "default" {
		id.Set = ""
	}
	for _, part := range []string{id.OS, id.Ver, id.Arch, id.App, id.Set} {
		if strings.HasPrefix(part, ".") || strings.ContainsAny(part, " :\t\n") {
			return ID{}, fmt.Errorf("%w: %s (element %q)", ErrBadLayout, rel, part)
		}
	}
	return id, nil
}
