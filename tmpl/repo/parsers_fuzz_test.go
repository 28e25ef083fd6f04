package repo

import (
	"strings"
	"testing"
)

// safeElement reports whether s can only name one entry of a directory.
func safeElement(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// Package names, versions and architectures of an index become the
// package's directory name in the area: whatever an index says, an
// accepted package's key is one safe path element, and every name its
// relations give is a package name (no "/", no "..").
func FuzzIndexNamesArePaths(f *testing.F) {
	f.Add("../../../../var/tmp/PWN", "1.0", "amd64", "libc6 (>= 2) | ../x")
	f.Add("libfoo", "1:2.0-1", "all", "a/b, c")
	f.Add("ok", "1.0", "../..", "")
	f.Add("ok", "1.0/../..", "amd64", "")
	f.Fuzz(func(t *testing.T, name, version, arch, depends string) {
		stanza := "Package: " + name + "\nVersion: " + version + "\nArchitecture: " + arch +
			"\nDepends: " + depends + "\nProvides: " + depends + "\n"
		ix := NewIndex(arch)
		if ix.ReadIndex(strings.NewReader(stanza), nil, "Packages") != nil {
			return
		}
		for _, ps := range ix.byName {
			for _, p := range ps {
				if !safeElement(p.Key()) {
					t.Fatalf("key %q from %q", p.Key(), stanza)
				}
				for _, c := range append(p.Depends, p.PreDepends...) {
					for _, r := range c {
						if !ValidPackageName(r.Name) {
							t.Fatalf("relation name %q from %q", r.Name, stanza)
						}
					}
				}
				for _, r := range p.Provides {
					if !ValidPackageName(r.Name) {
						t.Fatalf("provided name %q from %q", r.Name, stanza)
					}
				}
			}
		}
	})
}
