package apt

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
	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/repo"
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
func dists(s *repo.Source) string {
	if s.Flat() {
		return strings.TrimSuffix(strings.TrimPrefix(s.Suite, "./"), "/")
	}
	return "dists/" + s.Suite
}

func relPath(s *repo.Source, p string) string {
	if d := dists(s); d != "" {
		return d + "/" + p
	}
	return p
}

// listDir is where a source's indexes are kept in pm/.
func listDir(f *repo.Fetch, s *repo.Source) string {
	key := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s.URI+"_"+s.Suite, "_")
	return filepath.Join(f.PMDir, "lists", key)
}

// keyring loads the keys a source's Release must be signed with.
func keyring(s *repo.Source) (openpgp.EntityList, error) {
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
func fetchSmall(ctx context.Context, f *repo.Fetch, s *repo.Source, rel, keep string) ([]byte, error) {
	r, _, err := f.Open(ctx, s, rel)
	if err == nil {
		data, rerr := io.ReadAll(io.LimitReader(r, 64<<20))
		r.Close()
		if rerr == nil {
			os.MkdirAll(filepath.Dir(keep), 0o755)
			atfile.WriteFile(keep, data, 0o644)
			return data, nil
		}
		err = rerr
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if data, kerr := os.ReadFile(keep); kerr == nil {
		f.Step("warning: %s unreachable (%v); using the copy kept in %s", s.URI, err, keep)
		return data, nil
	}
	return nil, err
}

// loadRelease fetches and verifies a source's Release: InRelease, else
// Release with Release.gpg. For a [trusted=yes] source a missing or
// unsigned Release is accepted (then nil means: no hashes to check).
func loadRelease(ctx context.Context, f *repo.Fetch, s *repo.Source) (*release, error) {
	dir := listDir(f, s)
	var text []byte
	inrel, err := fetchSmall(ctx, f, s, relPath(s, "InRelease"), filepath.Join(dir, "InRelease"))
	switch {
	case err == nil:
		block, _ := clearsign.Decode(inrel)
		if block == nil {
			return nil, fmt.Errorf("%w: %s/%s is not clearsigned", ErrSignature, s.URI, relPath(s, "InRelease"))
		}
		if !s.Trusted() {
			keys, err := keyring(s)
			if err != nil {
				return nil, err
			}
			if _, err := block.VerifySignature(keys, nil); err != nil {
				return nil, fmt.Errorf("%w: %s/%s: %v; nothing from it is installed", ErrSignature, s.URI, relPath(s, "InRelease"), err)
			}
		}
		text = block.Plaintext
	case errors.Is(err, os.ErrNotExist):
		rel, err := fetchSmall(ctx, f, s, relPath(s, "Release"), filepath.Join(dir, "Release"))
		if errors.Is(err, os.ErrNotExist) && s.Trusted() {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("repository %s: no InRelease or Release: %w", s.URI, err)
		}
		if !s.Trusted() {
			sig, err := fetchSmall(ctx, f, s, relPath(s, "Release.gpg"), filepath.Join(dir, "Release.gpg"))
			if err != nil {
				return nil, fmt.Errorf("%w: %s: Release is not signed (no Release.gpg); add [trusted=yes] to use it anyway", ErrSignature, s.URI)
			}
			keys, err := keyring(s)
			if err != nil {
				return nil, err
			}
			if _, err := openpgp.CheckArmoredDetachedSignature(keys, bytes.NewReader(rel), bytes.NewReader(sig), nil); err != nil {
				if _, err2 := openpgp.CheckDetachedSignature(keys, bytes.NewReader(rel), bytes.NewReader(sig), nil); err2 != nil {
					return nil, fmt.Errorf("%w: %s/%s: %v; nothing from it is installed", ErrSignature, s.URI, relPath(s, "Release"), err)
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
func loadPackages(ctx context.Context, f *repo.Fetch, s *repo.Source, rel *release, component string, ix *repo.Index) error {
	base := "Packages"
	if component != "" {
		base = component + "/binary-" + f.Arch + "/Packages"
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
		keep := filepath.Join(listDir(f, s), strings.ReplaceAll(name, "/", "_"))
		if rel == nil || repo.VerifyFile(keep, want.size, want.sum) != nil {
			if err := f.Download(ctx, s, relPath(s, name), keep, want.size, want.sum, nil); err != nil {
				if errors.Is(err, os.ErrNotExist) && rel == nil {
					continue
				}
				errs = append(errs, err.Error())
				continue
			}
		}
		file, err := os.Open(keep)
		if err != nil {
			return err
		}
		var r io.Reader = file
		switch ext {
		case ".xz":
			xr, err := xz.NewReader(file)
			if err != nil {
				file.Close()
				return fmt.Errorf("%s: %v", name, err)
			}
			r = xr
		case ".gz":
			zr, err := gzip.NewReader(file)
			if err != nil {
				file.Close()
				return fmt.Errorf("%s: %v", name, err)
			}
			r = zr
		}
		err = ix.ReadIndex(io.LimitReader(r, 4<<30), s, s.URI+"/"+relPath(s, name))
		file.Close()
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("repository %s %s: %s", s.URI, component, strings.Join(errs, "; "))
	}
	return fmt.Errorf("repository %s: its Release lists no %s(.xz|.gz); is %s the right component and %s the right architecture?",
		s.URI, base, component, f.Arch)
}
