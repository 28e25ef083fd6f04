package tmpl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeConfig(t *testing.T, dir string, fs map[string]string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for n, d := range fs {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseConfigDir(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		name string
		kind Kind
		err  bool
	}{
		{"debian/12/x86_64/config/os/default", "debian-12-x86_64", OSBase, false},
		{"debian/12/x86_64/config/os/minimal", "debian-12-x86_64-minimal", OSSet, false},
		{"debian/12/x86_64/config/app/nginx/default", "nginx", App, false},
		{"debian/12/x86_64/config/app/php-fpm/8.2", "php-fpm-8.2", AppSet, false},
		{"debian/12/x86_64/config/other/x", "", 0, true},
		{"debian/12/config/os/default", "", 0, true},
		{"debian/.12/x86_64/config/os/default", "", 0, true},
	} {
		id, err := ParseConfigDir(tc.rel)
		if tc.err {
			if err == nil || !errors.Is(err, ErrBadLayout) {
				t.Errorf("%s: err %v", tc.rel, err)
			}
			continue
		}
		if err != nil || id.Name() != tc.name || id.Kind() != tc.kind || id.ConfigDir() != tc.rel {
			t.Errorf("%s: %+v %q %v %v", tc.rel, id, id.Name(), id.Kind(), err)
		}
	}
}

func TestTemplateRules(t *testing.T) {
	base := TemplateID{OS: "d", Ver: "1", Arch: "x86_64"}
	set := TemplateID{OS: "d", Ver: "1", Arch: "x86_64", Set: "min"}
	app := TemplateID{OS: "d", Ver: "1", Arch: "x86_64", App: "web"}
	good := map[string]string{"packages": "aa\nbb # comment\n\n# x\n", "package_manager": "tar\n", "repositories": "/r\n"}
	for _, tc := range []struct {
		name  string
		id    TemplateID
		files map[string]string
		err   string
	}{
		{"good base", base, good, ""},
		{"base with mirrorlist only", base, map[string]string{"packages": "aa", "package_manager": "dpkg", "mirrorlist": "http://m/list"}, ""},
		{"no packages", base, map[string]string{"package_manager": "tar", "repositories": "/r"}, "packages: missing"},
		{"no package_manager", base, map[string]string{"packages": "aa", "repositories": "/r"}, "package_manager: missing"},
		{"no repositories", base, map[string]string{"packages": "aa", "package_manager": "tar"}, "repositories: missing"},
		{"empty repositories", base, map[string]string{"packages": "aa", "package_manager": "tar", "repositories": "# none\n"}, "lists no repository"},
		{"bad package_manager", base, map[string]string{"packages": "aa", "package_manager": "apt get", "repositories": "/r"}, "want one word"},
		{"set", set, map[string]string{"packages": "aa"}, ""},
		{"set with package_manager", set, map[string]string{"packages": "aa", "package_manager": "tar"}, "only a base OS template"},
		{"set with distribution", set, map[string]string{"packages": "aa", "distribution": "x"}, "only a base OS template"},
		{"app", app, map[string]string{"packages": "aa", "repositories": "/extra", "post-install": "#!/bin/sh\n", "README": "doc"}, ""},
		{"app with package_manager", app, map[string]string{"packages": "aa", "package_manager": "tar"}, "only a base OS template"},
		{"app without packages", app, map[string]string{"summary": "x"}, "packages: missing"},
		{"bad environment", app, map[string]string{"packages": "aa", "environment": "not a var\n"}, "want KEY=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeConfig(t, dir, tc.files)
			tpl, err := LoadTemplate(dir, tc.id)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrBadTemplate) && !strings.Contains(tc.err, "KEY") {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.id.FullName()) {
				t.Errorf("error does not name the template: %v", err)
			}
			_ = tpl
		})
	}
}

func TestLoadTemplateFields(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, map[string]string{
		"packages": "aa\nbb (>= 2) | cc\n", "package_manager": "tar\n", "repositories": "/r1\n/r2 # second\n",
		"summary": "Sum # not this\n", "description": "Long\n# kept\n", "environment": "A=1\nB=\"x y\"\n",
		"post-cache": "#!/bin/sh\n", "NOTES": "doc",
	})
	tp, err := LoadTemplate(dir, TemplateID{OS: "d", Ver: "1", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Template{TemplateID: tp.TemplateID, Dir: dir, Packages: []string{"aa", "bb (>= 2) | cc"}, PackageManager: "tar",
		Repositories: []string{"/r1", "/r2"}, Summary: "Sum", Description: "Long\n# kept",
		Environment: []string{"A=1", "B=x y"}, Scripts: map[string]string{"post-cache": filepath.Join(dir, "post-cache")},
		Docs: []string{"NOTES"}}
	if d := cmp.Diff(want, tp); d != "" {
		t.Error(d)
	}
	st := &Stack{Base: tp, Layers: []*Template{{Repositories: []string{"/r2", "/r3"}, Packages: []string{"aa", "zz"}, Environment: []string{"A=2"}}}}
	if d := cmp.Diff([]string{"/r1", "/r2", "/r3"}, st.Repositories()); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"A=2", "B=x y"}, st.Environment()); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"aa", "bb (>= 2) | cc", "zz"}, st.Packages()); d != "" {
		t.Error(d)
	}
}

func FuzzLoadTemplate(f *testing.F) {
	f.Add("a\nb\n", "tar\n", "/r\n", "A=1\n")
	f.Add("# c\n", "dpkg", "deb http://x y z\n", "export B='q'")
	// One directory for all runs, its files overwritten: a directory made
	// and removed per run churns inodes, and on an ext4 without a journal
	// the creates then crawl (recently_deleted) until the fuzzer stalls.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, packages, pm, repos, env string) {
		writeConfig(t, dir, map[string]string{"packages": packages, "package_manager": pm, "repositories": repos, "environment": env})
		LoadTemplate(dir, TemplateID{OS: "d", Ver: "1", Arch: "x86_64"})
	})
}

// A packages file is read as vzpkg reads it: several names on a line,
// a version restriction and alternatives kept with their name.
func TestPackageList(t *testing.T) {
	got, err := packageList([]byte("coreutils bash\n# comment\nnginx (>= 1.22) | apache2 curl\n  libc6:amd64  (<< 3)\tgzip, xz-utils\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"coreutils", "bash", "nginx (>= 1.22) | apache2", "curl", "libc6:amd64 (<< 3)", "gzip", "xz-utils"}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	for _, tc := range []struct{ in, line string }{
		{"bash\n../../../tmp/x\n", "line 2"},
		{"bash\nfoo |\n", "line 2"},
		{"(>= 1) foo\n", "line 1"},
		{"ok\nok2\nBash\n", "line 3"},
		{"a (>= 1\n", "line 1"},
		{"x/y\n", "line 1"},
	} {
		_, err := packageList([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.line) {
			t.Errorf("%q: %v, want an error on %s", tc.in, err, tc.line)
		}
	}
}
