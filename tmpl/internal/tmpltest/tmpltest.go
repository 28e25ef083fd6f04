// Package tmpltest writes the fixtures the template manager's packages
// test against, in process: tar packages, a flat repository with its
// Packages index, template config directories. It imports nothing of
// ezfs, so that every package's own tests can use it.
package tmpltest

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Pkg is a tar package of a test repository.
type Pkg struct {
	Name, Version, Arch string // Arch defaults to amd64
	Depends, Provides   string
	Files               map[string]string // container path -> contents
	Symlinks            map[string]string
}

// Key is the package's file name without .tar.gz, as the area names it.
func (p Pkg) Key() string {
	arch := p.Arch
	if arch == "" {
		arch = "amd64"
	}
	return p.Name + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + arch
}

func (p Pkg) control() string {
	arch := p.Arch
	if arch == "" {
		arch = "amd64"
	}
	c := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n", p.Name, p.Version, arch)
	if p.Depends != "" {
		c += "Depends: " + p.Depends + "\n"
	}
	if p.Provides != "" {
		c += "Provides: " + p.Provides + "\n"
	}
	return c + "Description: test package " + p.Name + "\n"
}

// WritePackage writes p as KEY.tar.gz into dir and returns its path.
func WritePackage(t testing.TB, dir string, p Pkg) string {
	t.Helper()
	Must(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, p.Key()+".tar.gz")
	f, err := os.Create(path)
	Must(t, err)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	add := func(name string, mode int64, data string) {
		Must(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))}))
		_, err := tw.Write([]byte(data))
		Must(t, err)
	}
	add(".ezfs/control", 0o644, p.control())
	var paths []string
	dirs := map[string]bool{}
	for fp := range p.Files {
		paths = append(paths, fp)
		for d := filepath.Dir(fp); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	sort.Strings(paths)
	for _, d := range ds {
		Must(t, tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
	}
	for _, fp := range paths {
		mode := int64(0o644)
		if strings.Contains(fp, "bin/") {
			mode = 0o755
		}
		add(fp, mode, p.Files[fp])
	}
	var links []string
	for l := range p.Symlinks {
		links = append(links, l)
	}
	sort.Strings(links)
	for _, l := range links {
		Must(t, tw.WriteHeader(&tar.Header{Name: l, Typeflag: tar.TypeSymlink, Linkname: p.Symlinks[l], Mode: 0o777}))
	}
	Must(t, tw.Close())
	Must(t, zw.Close())
	Must(t, f.Close())
	return path
}

// WriteRepo writes the packages into dir with a Packages index, as
// `ezctl repo index` would, replacing an index there.
func WriteRepo(t testing.TB, dir string, pkgs ...Pkg) {
	t.Helper()
	var index strings.Builder
	for _, p := range pkgs {
		path := WritePackage(t, dir, p)
		data, err := os.ReadFile(path)
		Must(t, err)
		sum := sha256.Sum256(data)
		fmt.Fprintf(&index, "%sFilename: %s\nSize: %d\nSHA256: %s\n\n", p.control(), filepath.Base(path), len(data), hex.EncodeToString(sum[:]))
	}
	Must(t, os.WriteFile(filepath.Join(dir, "Packages"), []byte(index.String()), 0o644))
}

// WriteTemplate writes a template config directory (relative to src,
// e.g. demo/1/x86_64/config/os/default); scripts become executable.
func WriteTemplate(t testing.TB, src, configDir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(src, configDir, name)
		Must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "pre-") || strings.HasPrefix(name, "post-") {
			mode = 0o755
		}
		Must(t, os.WriteFile(p, []byte(data), mode))
	}
}

// Must fails the test on an error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// OSConfig is where the demo OS template's config lives below a source
// or area directory, and AppConfig an application template's.
const (
	OSConfig = "demo/1/x86_64/config/os/default"
	OSName   = "demo-1-x86_64"
)

// AppConfig is the config directory of application template app.
func AppConfig(app string) string { return "demo/1/x86_64/config/app/" + app + "/default" }

// Demo writes a repository of a small OS and a web application, and the
// templates that use it, below dir: dir/repo and dir/src. It returns
// them.
func Demo(t testing.TB, dir string) (repo, src string) {
	t.Helper()
	repo, src = filepath.Join(dir, "repo"), filepath.Join(dir, "src")
	WriteRepo(t, repo, DemoPackages...)
	WriteTemplate(t, src, OSConfig, map[string]string{
		"packages": "base-files tool\n", "package_manager": "tar\n", "repositories": repo + "\n", "summary": "Demo OS\n",
	})
	WriteTemplate(t, src, AppConfig("web"), map[string]string{"packages": "web\n", "summary": "A web server\n", "environment": "WEB_PORT=80\n"})
	return repo, src
}

// DemoPackages are the packages of Demo's repository.
var DemoPackages = []Pkg{
	{Name: "base-files", Version: "1.0", Files: map[string]string{"etc/os-release": "NAME=demo\n", "etc/hostname": "demo\n"},
		Symlinks: map[string]string{"bin": "usr/bin"}},
	{Name: "libfoo", Version: "2.0", Files: map[string]string{"usr/lib/libfoo.so": "foo v2\n"}},
	{Name: "tool", Version: "1.0", Depends: "libfoo", Files: map[string]string{"usr/bin/tool": "tool\n"}},
	{Name: "web", Version: "1.0", Depends: "libfoo", Files: map[string]string{"usr/sbin/web": "web v1\n", "etc/web.conf": "port=80\n", "usr/share/web/old.txt": "old\n"}},
}

// Index is a Packages index that names every kind of relation: versions
// with epochs and tildes, Depends and Pre-Depends, alternatives, virtual
// packages with and without versions, several versions of one package,
// another architecture.
const Index = `Package: libc
Version: 2.36-9
Architecture: amd64
Priority: required
Description: C library
 with a long
 .
 description

Package: libfoo
Version: 1.0
Architecture: amd64
Filename: libfoo_1.0_amd64.tar.gz
Size: 10
SHA256: AB

Package: libfoo
Version: 1:0.9
Architecture: amd64

Package: tool
Version: 2.0~rc1
Architecture: amd64
Depends: libfoo (>= 1:0), libc
Pre-Depends: libc (>= 2.0)

Package: mawk
Version: 1.3
Architecture: amd64
Provides: awk

Package: gawk
Version: 5.2
Architecture: amd64
Provides: awk (= 5.2)

Package: script
Version: 1
Architecture: all
Depends: gawk2 | awk, perl | python3 (>= 3.11) | libc

Package: nginx
Version: 1.22-9
Architecture: amd64
Provides: httpd, nginx-abi-1.22

Package: nginx
Version: 1.22-11
Architecture: amd64
Provides: httpd, nginx-abi-1.22

Package: mod
Version: 1
Architecture: amd64
Depends: nginx-abi-1.22

Package: light
Version: 1.22-11
Architecture: amd64
Depends: mod, nginx (>= 1.22-11)

Package: other-arch
Version: 1
Architecture: arm64
`
