package apt

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/repo"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// A .deb is an ar archive: debian-binary, control.tar.*, data.tar.*.

// arMember is one member of an ar archive.
type arMember struct {
	name string
	r    io.Reader
}

// readAr calls fn for each member of an ar archive, in order.
func readAr(r io.Reader, fn func(m arMember) error) error {
	br := bufio.NewReader(r)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return fmt.Errorf("%w: not an ar archive", archive.ErrUnsafe)
	}
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(br, hdr); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("%w: ar header: %v", archive.ErrUnsafe, err)
		}
		if string(hdr[58:60]) != "`\n" {
			return fmt.Errorf("%w: bad ar header", archive.ErrUnsafe)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: ar member %q: bad size", archive.ErrUnsafe, name)
		}
		lr := &io.LimitedReader{R: br, N: size}
		if err := fn(arMember{name: name, r: lr}); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, lr); err != nil {
			return err
		}
		if size%2 == 1 {
			br.ReadByte()
		}
	}
}

// decompress opens a member by its compression suffix.
func decompress(name string, r io.Reader) (io.Reader, func(), error) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		xr, err := xz.NewReader(r)
		return xr, func() {}, err
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(r, zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	case strings.HasSuffix(name, ".tar"):
		return r, func() {}, nil
	}
	return nil, nil, fmt.Errorf("%w: unknown compression of %q", archive.ErrUnsafe, name)
}

// debControlFiles are the control members kept for the container's
// /var/lib/dpkg/info.
var debControlFiles = []string{"control", "md5sums", "conffiles", "preinst", "postinst", "prerm", "postrm",
	"triggers", "shlibs", "symbols", "templates", "config"}

// unpackDeb writes the data of a .deb below dstfd and keeps its control
// files under .ezfs/deb/ beside them.
func unpackDeb(file string, dstfd int, dst string) (deb822.Stanza, []archive.Entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var control deb822.Stanza
	var entries []archive.Entry
	sawData := false
	err = readAr(f, func(m arMember) error {
		switch {
		case m.name == "debian-binary":
			v, _ := io.ReadAll(io.LimitReader(m.r, 16))
			if !strings.HasPrefix(string(v), "2.") {
				return fmt.Errorf("%w: .deb format %q", archive.ErrUnsafe, bytes.TrimSpace(v))
			}
		case strings.HasPrefix(m.name, "control.tar"):
			r, done, err := decompress(m.name, m.r)
			if err != nil {
				return err
			}
			defer done()
			control, err = readDebControl(r, dst)
			return err
		case strings.HasPrefix(m.name, "data.tar"):
			r, done, err := decompress(m.name, m.r)
			if err != nil {
				return err
			}
			defer done()
			sawData = true
			entries, err = archive.Extract(r, dstfd, archive.Policy{Links: true, Devices: true, FIFOs: true, Owners: true,
				MaxBytes: archive.MaxPackageBytes, MaxFiles: archive.MaxPackageFiles, Skip: repo.IsMeta})
			return err
		}
		return nil
	})
	if err != nil {
		return nil, entries, fmt.Errorf("%s: %w", file, err)
	}
	if control == nil || !sawData {
		return nil, entries, fmt.Errorf("%s: %w: no control or data member", file, archive.ErrUnsafe)
	}
	return control, entries, nil
}

// readDebControl keeps the control files of a .deb in dst/.ezfs/deb/ and
// returns its control stanza.
func readDebControl(r io.Reader, dst string) (deb822.Stanza, error) {
	dir := path.Join(dst, repo.MetaDir, "deb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var control deb822.Stanza
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: control.tar: %v", archive.ErrUnsafe, err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if hdr.Typeflag != tar.TypeReg || strings.Contains(name, "/") || !slices.Contains(debControlFiles, name) {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, 16<<20))
		if err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if hdr.Mode&0o111 != 0 {
			mode = 0o755
		}
		if err := os.WriteFile(path.Join(dir, name), data, mode); err != nil {
			return nil, err
		}
		if name == "control" {
			st, err := deb822.Parse(bytes.NewReader(data), "control")
			if err != nil || len(st) != 1 {
				return nil, fmt.Errorf("%w: bad control file (%v)", archive.ErrUnsafe, err)
			}
			control = st[0]
		}
	}
	return control, nil
}
