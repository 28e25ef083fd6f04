package tmpl

import (
	"strings"
	"testing"

	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/repo"
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

// safeElement reports whether s can only name one entry of a directory.
func safeElement(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
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
		if repo.CheckKey(c.Get("Package"), c.Get("Version"), c.Get("Architecture")) != nil {
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
			cs, err := repo.ParseRelations(it)
			if err != nil {
				t.Fatalf("item %q of %q does not parse: %v", it, text, err)
			}
			for _, c := range cs {
				for _, r := range c {
					if !repo.ValidPackageName(r.Name) {
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
			if !safeElement(l.Key()) || !repo.ValidPackageName(l.Name) || !repo.ValidArch(l.Arch) {
				t.Fatalf("%+v", l)
			}
		}
	})
}
