package tmpl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

// ErrSignature marks a repository whose Release is not signed by a key
// of its keyring.
var ErrSignature = errors.New("bad signature")

// Keyrings apt trusts when a source names none (signed-by).
var defaultKeyrings = []string{"/usr/share/keyrings/debian-archive-keyring.gpg", "/etc/apt/trusted.gpg", "/etc/apt/trusted.gpg.d/*"}

type fileHash struct {
	sum  string
	size int64
}

// release is a verified Release file: the hashes of the indexes.
type release struct {
	hashes map[string]fileHash
}

// dists is the base of a source's Release and index files.
func (s *Source) dists() string {
	if s.flat() {
		return strings.TrimSuffix(strings.TrimPrefix(s.Suite, "./"), "/")
	}
	return "dists/" + s.Suite
}

func (s *Source) rel(p string) string {
	if d := s.dists(); d != "" {
		return d + "/" + p
	}
	return p
}

// listDir is where a source's indexes are kept in pm/.
func (j *job) listDir(s *Source) string {
	key := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s.URI+"_"+s.Suite, "_")
	return filepath.Join(j.pmDir, "lists", key)
}

// keyring loads the keys a source's Release must be signed with.
func keyring(s *Source) (openpgp.EntityList, error) {
	if inline := s.Options["signed-by-inline"]; inline != "" {
		return openpgp.ReadArmoredKeyRing(strings.NewReader(inline))
	}
	var files []string
	if sb := s.Options["signed-by"]; sb != "" {
		for _, f := range strings.Split(sb, ",") {
			if !strings.HasPrefix(f, "/") {
				return nil, fmt.Errorf("repository %s: signed-by %q: give a keyring file (fingerprints are not supported)", s.URI, f)
			}
			files = append(files, f)
		}
	} else {
		for _, g := range defaultKeyrings {
			m, _ := filepath.Glob(g)
			files = append(files, m...)
		}
	}
	var keys openpgp.EntityList
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if s.Options["signed-by"] != "" {
				return nil, fmt.Errorf("repository %s: keyring: %w", s.URI, err)
			}
			continue
		}
		el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
		}
		if err != nil {
			return nil, fmt.Errorf("repository %s: keyring %s: %v", s.URI, f, err)
		}
		keys = append(keys, el...)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("repository %s: no keyring to check its signature with (install debian-archive-keyring, or name one with [signed-by=FILE])", s.URI)
	}
	return keys, nil
}

// fetchSmall reads a small repository file, keeping a copy in dir; when
// the repository cannot be reached, the copy kept from last time serves.
func (j *job) fetchSmall(ctx context.Context, s *Source, rel, keep string) ([]byte, error) {
	r, _, err := j.fetch.open(ctx, s, rel)
	if err == nil {
		data, rerr := io.ReadAll(io.LimitReader(r, 64<<20))
		r.Close()
		if rerr == nil {
			os.MkdirAll(filepath.Dir(keep), 0o755)
			atomicWrite(keep, data)
			return data, nil
		}
		err = rerr
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if data, kerr := os.ReadFile(keep); kerr == nil {
		j.rep.Step("warning: %s unreachable (%v); using the copy kept in %s", s.URI, err, keep)
		return data, nil
	}
	return nil, err
}

// loadRelease fetches and verifies a source's Release: InRelease, else
// Release with Release.gpg. For a [trusted=yes] source a missing or
// unsigned Release is accepted (then nil means: no hashes to check).
func (j *job) loadRelease(ctx context.Context, s *Source) (*release, error) {
	dir := j.listDir(s)
	var text []byte
	inrel, err := j.fetchSmall(ctx, s, s.rel("InRelease"), filepath.Join(dir, "InRelease"))
	switch {
	case err == nil:
		block, _ := clearsign.Decode(inrel)
		if block == nil {
			return nil, fmt.Errorf("%w: %s/%s is not clearsigned", ErrSignature, s.URI, s.rel("InRelease"))
		}
		if !s.trusted() {
			keys, err := keyring(s)
			if err != nil {
				return nil, err
			}
			if _, err := block.VerifySignature(keys, nil); err != nil {
				return nil, fmt.Errorf("%w: %s/%s: %v; nothing from it is installed", ErrSignature, s.URI, s.rel("InRelease"), err)
			}
		}
		text = block.Plaintext
	case errors.Is(err, os.ErrNotExist):
		rel, err := j.fetchSmall(ctx, s, s.rel("Release"), filepath.Join(dir, "Release"))
		if errors.Is(err, os.ErrNotExist) && s.trusted() {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("repository %s: no InRelease or Release: %w", s.URI, err)
		}
		if !s.trusted() {
			sig, err := j.fetchSmall(ctx, s, s.rel("Release.gpg"), filepath.Join(dir, "Release.gpg"))
			if err != nil {
				return nil, fmt.Errorf("%w: %s: Release is not signed (no Release.gpg); add [trusted=yes] to use it anyway", ErrSignature, s.URI)
			}
			keys, err := keyring(s)
			if err != nil {
				return nil, err
			}
			if _, err := openpgp.CheckArmoredDetachedSignature(keys, bytes.NewReader(rel), bytes.NewReader(sig), nil); err != nil {
				if _, err2 := openpgp.CheckDetachedSignature(keys, bytes.NewReader(rel), bytes.NewReader(sig), nil); err2 != nil {
					return nil, fmt.Errorf("%w: %s/%s: %v; nothing from it is installed", ErrSignature, s.URI, s.rel("Release"), err)
				}
			}
		}
		text = rel
	default:
		return nil, fmt.Errorf("repository %s: %w", s.URI, err)
	}
	return parseRelease(text, s.URI)
}

func parseRelease(text []byte, name string) (*release, error) {
	st, err := deb822.Parse(bytes.NewReader(text), name+" Release")
	if err != nil || len(st) == 0 {
		return nil, fmt.Errorf("repository %s: unreadable Release (%v)", name, err)
	}
	r := &release{hashes: map[string]fileHash{}}
	for _, line := range strings.Split(st[0].Get("SHA256"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		r.hashes[f[2]] = fileHash{sum: strings.ToLower(f[0]), size: size}
	}
	if len(r.hashes) == 0 {
		return nil, fmt.Errorf("repository %s: its Release lists no SHA256 hashes", name)
	}
	return r, nil
}

// loadPackages reads the Packages index of one component (or of a flat
// repository: component ""), checked against the Release, preferring
// xz, then gzip, then plain; an index kept in pm/ with the right hash
// is not downloaded again.
func (j *job) loadPackages(ctx context.Context, s *Source, rel *release, component string, ix *Index) error {
	base := "Packages"
	if component != "" {
		base = component + "/binary-" + j.arch + "/Packages"
	}
	var errs []string
	for _, ext := range []string{".xz", ".gz", ""} {
		name := base + ext
		var want fileHash
		if rel != nil {
			h, ok := rel.hashes[name]
			if !ok {
				continue
			}
			want = h
		}
		keep := filepath.Join(j.listDir(s), strings.ReplaceAll(name, "/", "_"))
		if rel == nil || verifyFile(keep, want.size, want.sum) != nil {
			if err := j.fetch.download(ctx, s, s.rel(name), keep, want.size, want.sum, nil); err != nil {
				if errors.Is(err, os.ErrNotExist) && rel == nil {
					continue
				}
				errs = append(errs, err.Error())
				continue
			}
		}
		f, err := os.Open(keep)
		if err != nil {
			return err
		}
		var r io.Reader = f
		switch ext {
		case ".xz":
			xr, err := xz.NewReader(f)
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %v", name, err)
			}
			r = xr
		case ".gz":
			zr, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %v", name, err)
			}
			r = zr
		}
		err = ix.ReadIndex(io.LimitReader(r, 4<<30), s, s.URI+"/"+s.rel(name))
		f.Close()
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("repository %s %s: %s", s.URI, component, strings.Join(errs, "; "))
	}
	return fmt.Errorf("repository %s: its Release lists no %s(.xz|.gz); is %s the right component and %s the right architecture?",
		s.URI, base, component, j.arch)
}
