package repo

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Package names and architectures come from repositories, package
// archives, template configs and private areas, and each becomes a
// directory name in the template area (name_version_arch): one that is
// not a Debian name (a "/", a "..", a blank) would lead the area's paths
// anywhere. Every parser checks them where it reads them.
var (
	validPackageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	validArch        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// Bounds that keep name_version_arch within one path element.
const (
	maxPackageName = 128
	maxArchName    = 32
)

// ValidPackageName reports whether name is a Debian package name
// (policy 5.6.1: lowercase letters, digits, + - ., at least two, starting
// with a letter or digit).
func ValidPackageName(name string) bool {
	return len(name) <= maxPackageName && validPackageName.MatchString(name)
}

// ValidArch reports whether arch is an architecture name (amd64, all,
// kfreebsd-i386).
func ValidArch(arch string) bool { return len(arch) <= maxArchName && validArch.MatchString(arch) }

// checkPackageName says what is wrong with a package name from outside.
func checkPackageName(name string) error {
	if !ValidPackageName(name) {
		return fmt.Errorf("bad package name %q: want lowercase letters, digits, + - . (at least two, at most %d, starting with a letter or digit)", name, maxPackageName)
	}
	return nil
}

// checkArch says what is wrong with an architecture from outside.
func checkArch(arch string) error {
	if !ValidArch(arch) {
		return fmt.Errorf("bad architecture %q: want lowercase letters, digits and - (at most %d)", arch, maxArchName)
	}
	return nil
}

// CheckKey checks the three parts of a package's directory name.
func CheckKey(name, version, arch string) error {
	if err := checkPackageName(name); err != nil {
		return err
	}
	if !ValidVersion(version) || len(version) > 96 {
		return fmt.Errorf("package %s: bad version %q", name, version)
	}
	return checkArch(arch)
}

// checkFilename says what is wrong with an index's Filename: it is
// fetched below the repository's base and kept under its last element in
// pm/downloads, so it must be relative and stay below the base.
func checkFilename(f string) error {
	if f == "" {
		return nil // refused at download: nothing unverified is installed
	}
	base := path.Base(f)
	if strings.HasPrefix(f, "/") || strings.ContainsAny(f, "\x00\\") || base == "." || base == ".." || strings.HasPrefix(base, ".") {
		return fmt.Errorf("bad Filename %q: want a relative path to a package file", f)
	}
	for _, el := range strings.Split(f, "/") {
		if el == ".." {
			//lint:ignore ST1005 ".." is the path element, not punctuation
			return fmt.Errorf("bad Filename %q: it climbs out of the repository with ..", f)
		}
	}
	return nil
}

// CheckElement refuses a package directory name that is not one plain
// path element.
func CheckElement(key string) error {
	if key == "" || key == "." || key == ".." || strings.HasPrefix(key, ".") || strings.ContainsAny(key, "/\x00") {
		return fmt.Errorf("%q is not a package directory name", key)
	}
	return nil
}
