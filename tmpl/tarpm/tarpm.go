package tarpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/repo"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Manager is ezfs's own package format: <name>_<version>_<arch>.tar.gz
// (or .tar.zst) holding the files at their container paths plus
// .ezfs/control, in a flat repository indexed by `ezctl repo index`.
type Manager struct{}

// ControlMember is the package's control stanza inside a tar package.
const ControlMember = ".ezfs/control"

func (Manager) ParseSource(line string) ([]*repo.Source, error) {
	if strings.ContainsAny(line, " \t") {
		return nil, fmt.Errorf("tar repository %q: want one path or URL", line)
	}
	if err := repo.CheckURI(line); err != nil {
		return nil, err
	}
	return []*repo.Source{{Line: line, URI: line}}, nil
}

func (Manager) LoadIndex(ctx context.Context, f *repo.Fetch, sources []*repo.Source) (*repo.Index, error) {
	ix := repo.NewIndex(f.Arch)
	for _, s := range sources {
		r, _, err := f.Open(ctx, s, "Packages")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("repository %s has no Packages index; write it with: ezctl repo index DIR", s.URI)
			}
			return nil, fmt.Errorf("repository %s: %w", s.URI, err)
		}
		err = ix.ReadIndex(io.LimitReader(r, 1<<30), s, s.URI+"/Packages")
		r.Close()
		if err != nil {
			return nil, err
		}
	}
	return ix, nil
}

func (Manager) Base(*repo.Index) []string { return nil }

// openTarPackage returns the decompressed tar stream of a package file.
func openTarPackage(p string) (io.Reader, func(), error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case strings.HasSuffix(p, ".tar.gz"), strings.HasSuffix(p, ".tgz"):
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s is not a valid gzip file: %v", p, err)
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	case strings.HasSuffix(p, ".tar.zst"):
		zr, err := zstd.NewReader(f, zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	}
	f.Close()
	return nil, nil, fmt.Errorf("%s: want a .tar.gz or .tar.zst package", p)
}

func (Manager) Unpack(file string, dstfd int, dst string) (deb822.Stanza, []archive.Entry, error) {
	r, done, err := openTarPackage(file)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	var control []byte
	entries, err := archive.Extract(r, dstfd, archive.Policy{
		Links: true, Devices: true, Owners: true,
		MaxBytes: archive.MaxPackageBytes, MaxFiles: archive.MaxPackageFiles,
		Skip: repo.IsMeta,
		OnSkip: func(p string, r io.Reader) error {
			if p == ControlMember {
				control, err = io.ReadAll(r)
			}
			return err
		},
	})
	if err != nil {
		return nil, entries, err
	}
	if control == nil {
		return nil, entries, fmt.Errorf("%s: no %s member", file, ControlMember)
	}
	stanzas, err := deb822.Parse(bytes.NewReader(control), file+":"+ControlMember)
	if err != nil || len(stanzas) != 1 {
		return nil, entries, fmt.Errorf("%s: %s must hold one stanza (%v)", file, ControlMember, err)
	}
	return stanzas[0], entries, nil
}
