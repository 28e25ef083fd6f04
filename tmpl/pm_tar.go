package tmpl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// tarManager is ezfs's own package format: <name>_<version>_<arch>.tar.gz
// (or .tar.zst) holding the files at their container paths plus
// .ezfs/control, in a flat repository indexed by `ezctl repo index`.
type tarManager struct{}

// Bounds for one package archive.
const (
	maxPackageBytes = 16 << 30
	maxPackageFiles = 1 << 20
)

// ControlMember is the package's control stanza inside a tar package.
const ControlMember = ".ezfs/control"

func (tarManager) ParseSource(line string) ([]*Source, error) {
	if strings.ContainsAny(line, " \t") {
		return nil, fmt.Errorf("tar repository %q: want one path or URL", line)
	}
	if err := checkURI(line); err != nil {
		return nil, err
	}
	return []*Source{{Line: line, URI: line}}, nil
}

func (tarManager) LoadIndex(ctx context.Context, j *job, sources []*Source) (*Index, error) {
	ix := NewIndex(j.arch)
	for _, s := range sources {
		r, _, err := j.fetch.open(ctx, s, "Packages")
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

func (tarManager) Base(*Index) []string { return nil }

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

func isControl(p string) bool { return p == ".ezfs" || strings.HasPrefix(p, ".ezfs/") }

func (tarManager) Unpack(archive string, dstfd int, dst string) (Stanza, []Entry, error) {
	r, done, err := openTarPackage(archive)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	var control []byte
	entries, err := extractTar(r, dstfd, extractPolicy{
		links: true, devices: true, owners: true,
		maxBytes: maxPackageBytes, maxFiles: maxPackageFiles,
		skip: isControl,
		onSkip: func(p string, r io.Reader) error {
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
		return nil, entries, fmt.Errorf("%s: no %s member", archive, ControlMember)
	}
	stanzas, err := ParseStanzas(bytes.NewReader(control), archive+":"+ControlMember)
	if err != nil || len(stanzas) != 1 {
		return nil, entries, fmt.Errorf("%s: %s must hold one stanza (%v)", archive, ControlMember, err)
	}
	return stanzas[0], entries, nil
}
