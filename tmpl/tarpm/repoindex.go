package tarpm

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/repo"
)

// IndexRepo writes DIR/Packages for the tar packages below dir: each
// package's control stanza plus Filename, Size and SHA256, the index
// format of a flat Debian repository. It returns how many it indexed.
func IndexRepo(dir string) (int, error) {
	var stanzas []deb822.Stanza
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() || !(strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tar.zst")) {
			return nil
		}
		s, err := indexPackage(dir, p)
		if err != nil {
			return err
		}
		stanzas = append(stanzas, s)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("repo index %s: %w", dir, err)
	}
	sort.Slice(stanzas, func(i, j int) bool {
		a, b := stanzas[i], stanzas[j]
		if a.Get("Package") != b.Get("Package") {
			return a.Get("Package") < b.Get("Package")
		}
		return repo.CompareVersions(a.Get("Version"), b.Get("Version")) < 0
	})
	var buf bytes.Buffer
	for _, s := range stanzas {
		if err := deb822.Write(&buf, s); err != nil {
			return 0, err
		}
	}
	if err := atfile.WriteFile(filepath.Join(dir, "Packages"), buf.Bytes(), 0o644); err != nil {
		return 0, err
	}
	return len(stanzas), nil
}

func indexPackage(dir, p string) (deb822.Stanza, error) {
	r, done, err := openTarPackage(p)
	if err != nil {
		return nil, err
	}
	var control []byte
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			done()
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		if name, _ := archive.CleanMember(hdr.Name); name == ControlMember {
			control, err = io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				done()
				return nil, err
			}
			break
		}
	}
	done()
	if control == nil {
		return nil, fmt.Errorf("%s: no %s member", p, ControlMember)
	}
	st, err := deb822.Parse(bytes.NewReader(control), p+":"+ControlMember)
	if err != nil || len(st) != 1 {
		return nil, fmt.Errorf("%s: %s must hold one stanza (%v)", p, ControlMember, err)
	}
	s := st[0]
	pkg, err := repo.PackageFromStanza(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	base := filepath.Base(p)
	if want := pkg.Key(); !strings.HasPrefix(base, want+".tar.") {
		return nil, fmt.Errorf("%s: its control describes %s, so the file should be named %s.tar.gz", p, pkg, want)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(dir, p)
	s.Set("Filename", filepath.ToSlash(rel))
	s.Set("Size", strconv.FormatInt(n, 10))
	s.Set("SHA256", hex.EncodeToString(h.Sum(nil)))
	return s, nil
}
