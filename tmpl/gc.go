package tmpl

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/tmpl/repo"
	"github.com/klauspost/compress/gzip"
)

// gcPackages removes the package directories of an OS that neither a
// container nor a cache of that OS lists any more. Packages are shared
// by every container of the node, so only the records say which are
// still needed.
func (a *Area) gcPackages(cfg *VZConf, base TemplateID) ([]string, error) {
	archDir := filepath.Join(a.Root, base.ArchDir())
	needed := map[string]bool{}
	cts, err := Containers(cfg)
	if err != nil {
		return nil, err
	}
	for _, ct := range cts {
		lines, err := LoadVZPackages(ct.Private)
		if err != nil {
			return nil, err // unsure what it needs: remove nothing
		}
		for _, l := range lines {
			needed[l.Key()] = true
		}
	}
	caches, _ := filepath.Glob(filepath.Join(a.CacheDir(), base.OSName()+"*.tar.gz*"))
	for _, c := range caches {
		lines, err := cacheVZPackages(c)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			needed[l.Key()] = true
		}
	}
	entries, err := os.ReadDir(archDir)
	if err != nil {
		return nil, nil
	}
	var removed []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || n == "config" || n == "pm" || strings.HasPrefix(n, ".") || needed[n] {
			continue
		}
		if _, err := os.Stat(filepath.Join(archDir, n, repo.ManifestFile)); err != nil {
			continue // not a package directory
		}
		gone := tempName(filepath.Join(archDir, n), "old")
		if err := os.Rename(filepath.Join(archDir, n), gone); err != nil {
			return removed, err
		}
		os.RemoveAll(gone)
		removed = append(removed, n)
	}
	return removed, nil
}

// cacheVZPackages reads the package list inside a cache tarball.
func cacheVZPackages(p string) ([]PkgLine, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimPrefix(hdr.Name, "./") == VZPackagesFile {
			return ReadVZPackages(io.LimitReader(tr, 16<<20), p+":"+VZPackagesFile)
		}
	}
}
