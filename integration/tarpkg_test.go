package integration

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// pkg describes a tar package for a test repository.
type pkg struct {
	name, version, arch string
	depends, provides   string
	files               files // container path -> contents
	symlinks            map[string]string
	raw                 func(tw *tar.Writer) // extra members, for hostile packages
}

// writePackage writes p as <name>_<version>_<arch>.tar.gz into dir.
func writePackage(t testing.TB, dir string, p pkg) string {
	t.Helper()
	if p.arch == "" {
		p.arch = "amd64"
	}
	must(t, os.MkdirAll(dir, 0o755))
	name := fmt.Sprintf("%s_%s_%s.tar.gz", p.name, strings.ReplaceAll(p.version, ":", "%3a"), p.arch)
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	must(t, err)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n", p.name, p.version, p.arch)
	if p.depends != "" {
		control += "Depends: " + p.depends + "\n"
	}
	if p.provides != "" {
		control += "Provides: " + p.provides + "\n"
	}
	control += "Description: test package " + p.name + "\n"
	add := func(hdr *tar.Header, data string) {
		hdr.Size = int64(len(data))
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		must(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(data))
		must(t, err)
	}
	add(&tar.Header{Name: ".ezfs/control", Typeflag: tar.TypeReg}, control)
	dirs := map[string]bool{}
	var paths []string
	for p := range p.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, fp := range paths {
		for d := filepath.Dir(fp); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	for _, d := range ds {
		must(t, tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
	}
	for _, fp := range paths {
		mode := int64(0o644)
		if strings.Contains(fp, "bin/") || strings.Contains(fp, ".so") {
			mode = 0o755
		}
		add(&tar.Header{Name: fp, Typeflag: tar.TypeReg, Mode: mode}, p.files[fp])
	}
	for l, target := range p.symlinks {
		must(t, tw.WriteHeader(&tar.Header{Name: l, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}))
	}
	if p.raw != nil {
		p.raw(tw)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	must(t, f.Close())
	return path
}

// writeTemplate writes a template config directory below src.
func writeTemplate(t testing.TB, src, configDir string, cfg files) {
	t.Helper()
	for name, data := range cfg {
		p := filepath.Join(src, configDir, name)
		writeFile(t, p, data)
		if !strings.Contains(name, ".") && (strings.HasPrefix(name, "pre-") || strings.HasPrefix(name, "post-")) {
			must(t, os.Chmod(p, 0o755))
		}
	}
}
