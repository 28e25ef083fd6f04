package repo

import (
	"errors"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
	"github.com/google/go-cmp/cmp"
)

func TestParseRelations(t *testing.T) {
	got, err := ParseRelations("aa, bb (>= 1.0) | cc:any (<< 2), dd [amd64], ee (= 1:2.0-1) <!nocheck>, f++ (> 1)")
	if err != nil {
		t.Fatal(err)
	}
	want := []Clause{
		{{Name: "aa"}},
		{{Name: "bb", Op: ">=", Version: "1.0"}, {Name: "cc", Arch: "any", Op: "<<", Version: "2"}},
		{{Name: "dd"}},
		{{Name: "ee", Op: "=", Version: "1:2.0-1"}},
		{{Name: "f++", Op: ">=", Version: "1"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	for _, bad := range []string{"aa (>= )", "(>= 1)", "aa (1.0)", "aa (>= 1", "a", "../../x", "lib/x", "Foo", ".x",
		"x_y", "aa:../x", "aa:AMD64", "aa bb"} {
		if _, err := ParseRelations(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0}, {"1:0.9", "2.0", 1}, {"2.0~rc1", "2.0", -1}, {"1.0-1", "1.0-2", -1},
		{"1.10", "1.9", 1}, {"1.0+b1", "1.0", 1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func testResolve(t *testing.T, want ...string) ([]string, error) {
	t.Helper()
	ix := NewIndex("amd64")
	if err := ix.ReadIndex(strings.NewReader(tmpltest.Index), nil, "Packages"); err != nil {
		t.Fatal(err)
	}
	pkgs, err := ix.Resolve(want)
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name+"="+p.Version)
	}
	return names, err
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		want []string
		got  []string
		err  string
	}{
		// The epoch makes 1:0.9 newer than 1.0; dependencies come first.
		{want: []string{"tool"}, got: []string{"libc=2.36-9", "libfoo=1:0.9", "tool=2.0~rc1"}},
		{want: []string{"libfoo (<< 1:0)"}, got: []string{"libfoo=1.0"}},
		// A virtual package: the first provider; alternatives in order.
		{want: []string{"script"}, got: []string{"mawk=1.3", "libc=2.36-9", "script=1"}},
		{want: []string{"mawk", "awk"}, got: []string{"mawk=1.3"}},
		{want: []string{"awk (= 5.2)"}, got: []string{"gawk=5.2"}},
		{want: []string{"other-arch"}, err: "no package other-arch"},
		// The newest version of a provider, so a later exact need fits.
		{want: []string{"light"}, got: []string{"nginx=1.22-11", "mod=1", "light=1.22-11"}},
		{want: []string{"libfoo (>= 2:0)"}, err: "the repositories have libfoo 1:0.9, 1.0"},
		{want: []string{"libfoo (= 1.0)", "tool"}, err: "libfoo 1.0 is already chosen"},
	} {
		got, err := testResolve(t, tc.want...)
		if tc.err != "" {
			var ue *UnsatisfiableError
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &ue) {
				t.Errorf("%v: err %v, want %q", tc.want, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.want, err)
			continue
		}
		if d := cmp.Diff(tc.got, got); d != "" {
			t.Errorf("%v: %s", tc.want, d)
		}
	}
}

func FuzzReadIndex(f *testing.F) {
	f.Add(tmpltest.Index)
	f.Add("Package: a\nVersion: 1\nArchitecture: all\nDepends: b (>= 1) | c\n")
	f.Fuzz(func(t *testing.T, in string) {
		ix := NewIndex("amd64")
		if ix.ReadIndex(strings.NewReader(in), nil, "x") == nil {
			for name := range ix.byName {
				ix.Resolve([]string{name})
			}
		}
	})
}

func FuzzParseRelations(f *testing.F) {
	f.Add("a, b (>= 1.0) | c:any (<< 2), d [amd64]")
	f.Fuzz(func(t *testing.T, in string) {
		cs, err := ParseRelations(in)
		if err != nil {
			return
		}
		for _, c := range cs {
			for _, r := range c {
				if r.Name == "" {
					t.Fatalf("%q: empty name", in)
				}
			}
		}
	})
}
