package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl/internal/listfile"
	"golang.org/x/sys/unix"
)

// Source is one repository a template names.
type Source struct {
	Line string // as the template wrote it
	URI  string // base: an absolute path, file://, http:// or https://

	// Apt repositories (dpkg).
	Suite      string
	Components []string
	Options    map[string]string // [arch=... signed-by=... trusted=yes]
}

// ErrChecksum marks a download whose size or SHA-256 is not what the
// index says.
var ErrChecksum = errors.New("checksum mismatch")

// local returns the file path for a repository-relative path of a local
// repository, or "" for a remote one.
func (s *Source) local(rel string) string {
	switch {
	case strings.HasPrefix(s.URI, "file://"):
		return filepath.Join(strings.TrimPrefix(s.URI, "file://"), filepath.FromSlash(rel))
	case strings.HasPrefix(s.URI, "/"):
		return filepath.Join(s.URI, filepath.FromSlash(rel))
	}
	return ""
}

// url joins rel to a remote repository's base.
func (s *Source) url(rel string) string {
	return strings.TrimSuffix(s.URI, "/") + "/" + strings.TrimPrefix(path.Clean("/"+rel), "/")
}

// CheckURI accepts the repository forms DESIGN.md names.
func CheckURI(uri string) error {
	switch {
	case strings.HasPrefix(uri, "/"), strings.HasPrefix(uri, "file://"):
		return nil
	case strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "https://"):
		if _, err := url.Parse(uri); err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("repository %q: want an absolute path, file://, http:// or https:// URL", uri)
}

// Fetcher opens repository files, local or over HTTP.
type Fetcher struct {
	client *http.Client
}

// DefaultFetcher is the one every package manager run uses.
var DefaultFetcher = &Fetcher{client: &http.Client{}}

// Open returns a repository file and its size (-1 if unknown).
func (f *Fetcher) Open(ctx context.Context, s *Source, rel string) (io.ReadCloser, int64, error) {
	if p := s.local(rel); p != "" {
		file, err := os.Open(p)
		if err != nil {
			return nil, 0, err
		}
		st, err := file.Stat()
		if err != nil {
			file.Close()
			return nil, 0, err
		}
		return file, st.Size(), nil
	}
	return f.get(ctx, s.url(rel))
}

func (f *Fetcher) get(ctx context.Context, u string) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil, 0, fmt.Errorf("%s: %w", u, os.ErrNotExist)
		}
		return nil, 0, fmt.Errorf("%s: %s", u, resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}

// Download copies a repository file to dst, checking size and SHA-256
// when given, through a temporary name so that dst is always whole and
// verified. An existing dst that verifies is reused.
func (f *Fetcher) Download(ctx context.Context, s *Source, rel, dst string, size int64, sum string, progress func(int64)) error {
	if sum != "" && VerifyFile(dst, size, sum) == nil {
		if progress != nil {
			progress(size)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	r, _, err := f.Open(ctx, s, rel)
	if err != nil {
		return fmt.Errorf("download %s: %w", rel, err)
	}
	defer r.Close()
	dirfd, err := atfile.OpenDirPath(filepath.Dir(dst))
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Dir(dst), Err: err}
	}
	defer unix.Close(dirfd)
	var src io.Reader = r
	if size > 0 {
		src = io.LimitReader(r, size+1) // one byte over tells a longer file
	}
	// Written beside dst and renamed over it only once size and sum
	// hold: dst is always whole and verified.
	return atfile.WriteAt(dirfd, filepath.Base(dst), atfile.WriteOptions{Mode: 0o644}, func(out *os.File) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(out, h, progressWriter(progress)), src)
		if err != nil {
			return err
		}
		if size > 0 && n != size {
			return fmt.Errorf("%w: %s has %d bytes, the index says %d", ErrChecksum, rel, n, size)
		}
		if got := hex.EncodeToString(h.Sum(nil)); sum != "" && got != sum {
			return fmt.Errorf("%w: %s has SHA256 %s, the index says %s", ErrChecksum, rel, got, sum)
		}
		return nil
	})
}

type progressWriter func(int64)

func (p progressWriter) Write(b []byte) (int, error) {
	if p != nil {
		p(int64(len(b)))
	}
	return len(b), nil
}

// VerifyFile checks a file's size and SHA-256.
func VerifyFile(p string, size int64, sum string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if size > 0 && n != size {
		return fmt.Errorf("%w: %s has %d bytes, want %d", ErrChecksum, p, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("%w: %s has SHA256 %s, want %s", ErrChecksum, p, got, sum)
	}
	return nil
}

// FetchMirrorlist reads a mirrorlist URL (or path): one repository line
// per line, "#" comments.
func (f *Fetcher) FetchMirrorlist(ctx context.Context, u string) ([]string, error) {
	var r io.ReadCloser
	var err error
	if strings.HasPrefix(u, "/") || strings.HasPrefix(u, "file://") {
		r, err = os.Open(strings.TrimPrefix(u, "file://"))
	} else {
		r, _, err = f.get(ctx, u)
	}
	if err != nil {
		return nil, fmt.Errorf("mirrorlist %s: %w", u, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("mirrorlist %s: %w", u, err)
	}
	return listfile.Lines(data)
}

// Flat reports whether the source is a flat apt repository (its suite
// ends in "/": no dists/, no components).
func (s *Source) Flat() bool { return strings.HasSuffix(s.Suite, "/") }

// Trusted reports [trusted=yes]: no signature is asked for.
func (s *Source) Trusted() bool { return s.Options["trusted"] == "yes" }

// Fetch is what a package manager reads its repositories with: where it
// keeps their indexes, for which architecture, and where progress goes.
type Fetch struct {
	*Fetcher
	PMDir string                           // <os>/<ver>/<arch>/pm of the template area, absolute
	Arch  string                           // package architecture (amd64)
	Step  func(format string, args ...any) // progress and warnings, one line each
}

// PackageArch maps a template's architecture directory to the package
// architecture Debian uses.
func PackageArch(dir string) string {
	switch dir {
	case "x86_64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "i686", "i586", "i386":
		return "i386"
	}
	return dir
}
