package tarpm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
	"github.com/ezfs/ezfs/tmpl/repo"
	"golang.org/x/sys/unix"
)

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"/srv/repo", true},
		{"file:///srv/repo", true},
		{"https://repo.example/x", true},
		{"two words", false},
		{"relative/path", false},
		{"ftp://repo.example", false},
	} {
		ss, err := (Manager{}).ParseSource(tc.line)
		if (err == nil) != tc.ok || tc.ok && (len(ss) != 1 || ss[0].URI != tc.line) {
			t.Errorf("%q: %+v %v", tc.line, ss, err)
		}
	}
	if (Manager{}).Base(nil) != nil {
		t.Error("the tar manager has a base system")
	}
}

// IndexRepo indexes what WritePackage writes; LoadIndex reads it back,
// Unpack lays a package out with its control stanza apart.
func TestIndexLoadUnpack(t *testing.T) {
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	for _, p := range tmpltest.DemoPackages {
		tmpltest.WritePackage(t, filepath.Join(repoDir, "pool"), p)
	}
	n, err := IndexRepo(repoDir)
	if err != nil || n != len(tmpltest.DemoPackages) {
		t.Fatalf("indexed %d: %v", n, err)
	}
	f := &repo.Fetch{Fetcher: repo.DefaultFetcher, PMDir: filepath.Join(dir, "pm"), Arch: "amd64", Step: func(string, ...any) {}}
	srcs, err := (Manager{}).ParseSource(repoDir)
	tmpltest.Must(t, err)
	ix, err := (Manager{}).LoadIndex(context.Background(), f, srcs)
	tmpltest.Must(t, err)
	pkgs, err := ix.Resolve([]string{"web"})
	if err != nil || len(pkgs) != 2 || pkgs[1].Filename != "pool/web_1.0_amd64.tar.gz" {
		t.Fatalf("resolved %v %v", pkgs, err)
	}
	if _, err := (Manager{}).LoadIndex(context.Background(), f, []*repo.Source{{URI: dir}}); err == nil || !strings.Contains(err.Error(), "repo index") {
		t.Errorf("a repository without an index: %v", err)
	}

	testenv.RequireRoot(t) // owners
	dst := filepath.Join(dir, "unpacked")
	tmpltest.Must(t, os.Mkdir(dst, 0o755))
	fd, err := unix.Open(dst, unix.O_PATH|unix.O_DIRECTORY, 0)
	tmpltest.Must(t, err)
	defer unix.Close(fd)
	control, entries, err := (Manager{}).Unpack(filepath.Join(repoDir, "pool", "web_1.0_amd64.tar.gz"), fd, dst)
	tmpltest.Must(t, err)
	if control.Get("Package") != "web" || len(entries) != 8 {
		t.Errorf("control %v, %d entries: %+v", control, len(entries), entries)
	}
	if _, err := os.Stat(filepath.Join(dst, ".ezfs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".ezfs unpacked: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "usr/sbin/web")); string(data) != "web v1\n" {
		t.Errorf("usr/sbin/web: %q", data)
	}
}

func TestRefusedPackages(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	tmpltest.Must(t, os.MkdirAll(bad, 0o755))
	for _, tc := range []struct {
		name, file string
		data       string
	}{
		{"not gzip", "x_1_amd64.tar.gz", "plain"},
		{"unknown suffix", "x_1_amd64.tar.bz2", ""},
		{"misnamed", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			tmpltest.Must(t, os.MkdirAll(d, 0o755))
			p := filepath.Join(d, tc.file)
			if tc.file == "" {
				p = tmpltest.WritePackage(t, d, tmpltest.Pkg{Name: "real", Version: "1"})
				tmpltest.Must(t, os.Rename(p, filepath.Join(d, "other_1_amd64.tar.gz")))
				p = filepath.Join(d, "other_1_amd64.tar.gz")
			} else {
				tmpltest.Must(t, os.WriteFile(p, []byte(tc.data), 0o644))
			}
			if _, err := IndexRepo(d); err == nil && tc.file != "x_1_amd64.tar.bz2" {
				t.Error("indexed")
			}
			fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY, 0)
			tmpltest.Must(t, err)
			defer unix.Close(fd)
			if _, _, err := (Manager{}).Unpack(p, fd, d); err == nil && tc.file != "" {
				t.Error("unpacked")
			}
		})
	}
}
