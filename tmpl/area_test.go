package tmpl

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
)

// demoArea installs the demo templates into a new area of a --vz
// layout and returns it with the layout's config and the repository.
func demoArea(t *testing.T) (*Area, *VZConf, string) {
	t.Helper()
	testenv.RequireRoot(t) // link entries are trusted.* attributes
	dir := t.TempDir()
	repo, src := tmpltest.Demo(t, dir)
	cfg, err := VZDirConf(filepath.Join(dir, "vz"))
	tmpltest.Must(t, err)
	a := &Area{Root: cfg.Template}
	ts, err := a.InstallTemplates(src)
	tmpltest.Must(t, err)
	if len(ts) != 2 || !ts[0].IsOS() {
		t.Fatalf("installed %v: want the OS template, then web", ts)
	}
	return a, cfg, repo
}

func TestFind(t *testing.T) {
	a, _, _ := demoArea(t)
	for _, tc := range []struct {
		name, want string
		err        error
	}{
		{name: tmpltest.OSName, want: tmpltest.OSName},
		{name: "." + tmpltest.OSName, want: tmpltest.OSName},
		{name: "web", want: tmpltest.OSName + ":web"},
		{name: tmpltest.OSName + ":web", want: tmpltest.OSName + ":web"},
		{name: "nope", err: ErrNoTemplate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Find(tc.name)
			if !errors.Is(err, tc.err) || err == nil && got.FullName() != tc.want {
				t.Fatalf("Find(%q) = %v, %v; want %s, %v", tc.name, got, err, tc.want, tc.err)
			}
		})
	}
	st, err := a.Stack(tmpltest.OSName)
	tmpltest.Must(t, err)
	if st.PackageManager() != "tar" || len(st.Repositories()) != 1 || !slices.Equal(st.Packages(), []string{"base-files", "tool"}) {
		t.Errorf("stack %+v", st)
	}
	if _, err := a.Stack("web"); err == nil {
		t.Error("an application template made a stack")
	}
	web, err := a.FindApp(st.Base.TemplateID, "web")
	tmpltest.Must(t, err)
	st.Layers = append(st.Layers, web)
	if env := st.Environment(); !slices.Equal(env, []string{"WEB_PORT=80"}) || len(st.Mirrorlists()) != 0 {
		t.Errorf("environment %v", env)
	}
}

func TestInstallTemplatesRefusals(t *testing.T) {
	a, _, _ := demoArea(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		files map[string]map[string]string // config dir -> files
		want  string
	}{
		{"no template", nil, "holds no template"},
		{"app without its base", map[string]map[string]string{"other/1/x86_64/config/app/x/default": {"packages": "xx\n"}}, "needs its base OS template"},
		{"base without packages", map[string]map[string]string{"other/1/x86_64/config/os/default": {"package_manager": "tar\n", "repositories": "/r\n"}}, "packages: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			tmpltest.Must(t, os.MkdirAll(src, 0o755))
			for cd, files := range tc.files {
				tmpltest.WriteTemplate(t, src, cd, files)
			}
			if _, err := a.InstallTemplates(src); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// A template archive installs like its directory, and replaces what is
// installed.
func TestInstallTemplatesArchive(t *testing.T) {
	a, _, _ := demoArea(t)
	dir := t.TempDir()
	arc := filepath.Join(dir, "t.tar.gz")
	f, err := os.Create(arc)
	tmpltest.Must(t, err)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for name, data := range map[string]string{"packages": "web tool\n", "summary": "Web, again\n"} {
		tmpltest.Must(t, tw.WriteHeader(&tar.Header{Name: tmpltest.AppConfig("web") + "/" + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		tw.Write([]byte(data))
	}
	tmpltest.Must(t, tw.Close())
	tmpltest.Must(t, zw.Close())
	tmpltest.Must(t, f.Close())
	ts, err := a.InstallTemplates(arc)
	tmpltest.Must(t, err)
	if len(ts) != 1 || ts[0].Summary != "Web, again" || !slices.Equal(ts[0].Packages, []string{"web", "tool"}) {
		t.Fatalf("installed %+v", ts)
	}
	if _, err := a.InstallTemplates(filepath.Join(dir, "missing.tar.gz")); err == nil {
		t.Error("a missing archive installed")
	}
	tmpltest.Must(t, os.WriteFile(filepath.Join(dir, "bad.zip"), []byte("x"), 0o644))
	if _, err := a.InstallTemplates(filepath.Join(dir, "bad.zip")); err == nil {
		t.Error("a .zip installed")
	}
}

// A cache is written, refused again without update, rebuilt with it
// (keeping the old one), lists its packages, and goes with the template.
func TestCacheLifecycle(t *testing.T) {
	a, cfg, _ := demoArea(t)
	ctx := context.Background()
	res, err := a.CreateCache(ctx, tmpltest.OSName, CacheOptions{})
	tmpltest.Must(t, err)
	var names []string
	for _, p := range res.Packages {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"base-files", "libfoo", "tool"}) || res.Files != 4 || len(res.New) != 3 || res.Bytes == 0 {
		t.Fatalf("cache %+v, packages %v", res, names)
	}
	if _, err := a.CreateCache(ctx, tmpltest.OSName, CacheOptions{}); !errors.Is(err, ErrCacheExists) {
		t.Fatalf("second create: %v", err)
	}
	res, err = a.CreateCache(ctx, tmpltest.OSName, CacheOptions{Update: true})
	tmpltest.Must(t, err)
	if len(res.New) != 0 {
		t.Errorf("an update unpacked %v again", res.New)
	}
	if _, err := os.Stat(res.Path + "-old"); err != nil {
		t.Errorf("the replaced cache: %v", err)
	}
	lines, err := cacheVZPackages(res.Path)
	if err != nil || len(lines) != 3 || lines[0].Template != tmpltest.OSName {
		t.Fatalf("vzpackages of the cache: %v %v", lines, err)
	}
	// A container using the OS template keeps it, and its packages.
	private := cfg.Private("101")
	tmpltest.Must(t, os.MkdirAll(filepath.Join(private, "templates"), 0o700))
	tmpltest.Must(t, os.WriteFile(filepath.Join(private, VEConfFile), []byte("OSTEMPLATE=\"."+tmpltest.OSName+"\"\nTEMPLATES=\" .web\"\n"), 0o600))
	tmpltest.Must(t, SaveVZPackages(private, lines[:1]))
	base, _ := a.Find(tmpltest.OSName)
	if users := ContainersUsing(cfg, base); !slices.Equal(users, []string{"101"}) {
		t.Errorf("users %v", users)
	}
	if _, err := a.RemoveTemplate(cfg, tmpltest.OSName); !errors.Is(err, ErrInUse) {
		t.Fatalf("removed a template in use: %v", err)
	}
	if _, err := a.RemoveTemplate(cfg, "web"); !errors.Is(err, ErrInUse) {
		t.Fatalf("removed an application template in use: %v", err)
	}
	tmpltest.Must(t, os.RemoveAll(private))
	if _, err := a.RemoveTemplate(cfg, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RemoveTemplate(cfg, tmpltest.OSName); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Find(tmpltest.OSName); !errors.Is(err, ErrNoTemplate) {
		t.Errorf("after remove: %v", err)
	}
	if err := a.RemoveCache(tmpltest.OSName); !errors.Is(err, ErrNoCache) {
		t.Errorf("remove a removed cache: %v", err)
	}
}
