package tmpl

import (
	"strings"
	"testing"

	"github.com/ezfs/ezfs/tmpl/deb822"
)

func FuzzReadVZPackages(f *testing.F) {
	f.Add("# comment\nbash 5.2.15-2 amd64 debian-12-x86_64\nnginx 1:1.22 amd64 nginx\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines, err := ReadVZPackages(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		for _, l := range lines {
			if strings.ContainsAny(l.Name+l.Version+l.Arch+l.Template, " \t\n") {
				t.Fatalf("field with blanks: %+v", l)
			}
		}
	})
}

func FuzzParseAptLine(f *testing.F) {
	f.Add("deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://example.invalid/debian bookworm main contrib")
	f.Add("deb [trusted=yes] file:///srv/repo ./")
	f.Fuzz(func(t *testing.T, line string) {
		s, err := ParseAptLine(line)
		if err != nil {
			return
		}
		if s.flat() == (len(s.Components) > 0) {
			t.Fatalf("%q: flat %v with components %v", line, s.flat(), s.Components)
		}
	})
}

func FuzzParseRelease(f *testing.F) {
	f.Add("Origin: Debian\nSuite: stable\nSHA256:\n 0123abcd 1234 main/binary-amd64/Packages.xz\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := parseRelease([]byte(text), "f")
		if err != nil {
			return
		}
		for p, h := range r.hashes {
			if p == "" || h.size < 0 {
				t.Fatalf("bad entry %q %+v", p, h)
			}
		}
	})
}

func TestParseAptLine(t *testing.T) {
	s, err := ParseAptLine("deb [arch=amd64,arm64 signed-by=/k.gpg] http://example.invalid/debian/ bookworm main contrib")
	if err != nil || s.URI != "http://example.invalid/debian" || s.Suite != "bookworm" || len(s.Components) != 2 ||
		s.Options["signed-by"] != "/k.gpg" || s.Options["arch"] != "amd64,arm64" {
		t.Errorf("%+v %v", s, err)
	}
	if s, err := ParseAptLine("deb [trusted=yes] /srv/repo ./"); err != nil || !s.flat() || !s.trusted() {
		t.Errorf("flat: %+v %v", s, err)
	}
	for _, bad := range []string{"deb-src http://x y z", "deb http://x", "deb http://x stable", "deb /r ./ main", "deb [arch] http://x y z", "deb ftp://x y z"} {
		if _, err := ParseAptLine(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseDeb822Sources(t *testing.T) {
	in := "Types: deb\nURIs: http://example.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nEnabled: no\nURIs: http://example.invalid/other\nSuites: x\nComponents: main\n"
	ss, err := parseDeb822Sources([]byte(in), "debian.sources")
	if err != nil || len(ss) != 2 || ss[1].Suite != "bookworm-updates" || ss[0].Options["signed-by"] == "" {
		t.Fatalf("%v %+v", err, ss)
	}
}

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

// A package's control stanza (.ezfs/control of a tar package, control of
// a .deb, .ezfs/control in the area) is checked the same way.
func FuzzControlNamesArePaths(f *testing.F) {
	f.Add("Package: x/../../y\nVersion: 1\nArchitecture: amd64\n")
	f.Add("Package: bash\nVersion: 5.2.15-2\nArchitecture: amd64\nDepends: libc6 (>= 2.36)\n")
	f.Fuzz(func(t *testing.T, text string) {
		st, err := deb822.Parse(strings.NewReader(text), "control")
		if err != nil || len(st) != 1 {
			return
		}
		c := st[0]
		if checkKey(c.Get("Package"), c.Get("Version"), c.Get("Architecture")) != nil {
			return
		}
		l := PkgLine{c.Get("Package"), c.Get("Version"), c.Get("Architecture"), "t"}
		if !safeElement(l.Key()) {
			t.Fatalf("key %q from %q", l.Key(), text)
		}
	})
}

// A packages file: every relation it yields has checked names.
func FuzzPackageList(f *testing.F) {
	f.Add("coreutils bash\nnginx (>= 1.22) | apache2 curl\n")
	f.Add("../../x\n")
	f.Fuzz(func(t *testing.T, text string) {
		items, err := packageList([]byte(text))
		if err != nil {
			return
		}
		for _, it := range items {
			cs, err := ParseRelations(it)
			if err != nil {
				t.Fatalf("item %q of %q does not parse: %v", it, text, err)
			}
			for _, c := range cs {
				for _, r := range c {
					if !ValidPackageName(r.Name) {
						t.Fatalf("name %q from %q", r.Name, text)
					}
				}
			}
		}
	})
}

// vzpackages lines name directories of the area too.
func FuzzVZPackagesKeys(f *testing.F) {
	f.Add("../../x 1.0 amd64 t\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines, err := ReadVZPackages(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		for _, l := range lines {
			if !safeElement(l.Key()) || !ValidPackageName(l.Name) || !ValidArch(l.Arch) {
				t.Fatalf("%+v", l)
			}
		}
	})
}
