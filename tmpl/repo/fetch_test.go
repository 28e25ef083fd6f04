package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestDownload(t *testing.T) {
	files := map[string]string{"/pool/a.deb": "package a", "/mirrors": "# list\n/srv/one\nhttp://two.example/x\n"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(data))
	}))
	defer srv.Close()
	local := t.TempDir()
	os.MkdirAll(filepath.Join(local, "pool"), 0o755)
	os.WriteFile(filepath.Join(local, "pool", "a.deb"), []byte("package a"), 0o644)
	ctx := context.Background()
	for _, src := range []*Source{{URI: srv.URL + "/"}, {URI: local}, {URI: "file://" + local}} {
		for _, tc := range []struct {
			name      string
			rel       string
			size      int64
			sum       string
			err       error
			errSubstr string
		}{
			{name: "verified", rel: "pool/a.deb", size: 9, sum: sum("package a")},
			{name: "unverified", rel: "pool/a.deb"},
			{name: "wrong size", rel: "pool/a.deb", size: 8, sum: sum("package a"), err: ErrChecksum},
			{name: "wrong sum", rel: "pool/a.deb", size: 9, sum: sum("other"), err: ErrChecksum},
			{name: "missing", rel: "pool/b.deb", err: os.ErrNotExist},
		} {
			t.Run(src.URI+" "+tc.name, func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "sub", "a.deb")
				var got int64
				err := DefaultFetcher.Download(ctx, src, tc.rel, dst, tc.size, tc.sum, func(n int64) { got += n })
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				if err != nil {
					if _, serr := os.Stat(dst); serr == nil {
						t.Error("a file that failed its check was kept")
					}
					return
				}
				if data, _ := os.ReadFile(dst); string(data) != "package a" || got != 9 {
					t.Errorf("got %q, progress %d", data, got)
				}
				if tc.sum != "" {
					// Kept and verified: not fetched again.
					got = 0
					if err := DefaultFetcher.Download(ctx, &Source{URI: "http://unreachable.invalid"}, tc.rel, dst, tc.size, tc.sum, func(n int64) { got += n }); err != nil || got != 9 {
						t.Errorf("reuse: %v, progress %d", err, got)
					}
				}
			})
		}
	}
	list, err := DefaultFetcher.FetchMirrorlist(ctx, srv.URL+"/mirrors")
	if err != nil || !slices.Equal(list, []string{"/srv/one", "http://two.example/x"}) {
		t.Errorf("mirrorlist %q %v", list, err)
	}
	if _, err := DefaultFetcher.FetchMirrorlist(ctx, srv.URL+"/none"); err == nil {
		t.Error("a missing mirrorlist read")
	}
	if _, err := DefaultFetcher.FetchMirrorlist(ctx, "/nonexistent/mirrors"); err == nil {
		t.Error("a missing local mirrorlist read")
	}
}

func TestCheckURI(t *testing.T) {
	for uri, ok := range map[string]bool{"/srv": true, "file:///srv": true, "http://h/x": true, "https://h": true, "ftp://h": false, "srv": false, "http://[::1": false} {
		if err := CheckURI(uri); (err == nil) != ok {
			t.Errorf("%q: %v", uri, err)
		}
	}
	for dir, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "riscv64": "riscv64"} {
		if got := PackageArch(dir); got != want {
			t.Errorf("PackageArch(%s) = %s", dir, got)
		}
	}
	s := &Source{Suite: "./", Options: map[string]string{"trusted": "yes"}}
	if !s.Flat() || !s.Trusted() || (&Source{Suite: "bookworm"}).Flat() {
		t.Error("flat or trusted")
	}
	for p, meta := range map[string]bool{".ezfs": true, ".ezfs/control": true, ".ezfsx": false, "usr/.ezfs": false} {
		if IsMeta(p) != meta {
			t.Errorf("IsMeta(%q)", p)
		}
	}
}

func TestLoadInstalled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "web_1.0_amd64")
	write := func(name, data string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}
	if _, err := LoadInstalled(dir); err == nil {
		t.Error("loaded a package without a manifest")
	}
	write(ManifestFile, "f 644 0 0 3 "+sum("web")+" 0 0 \"usr/sbin/web\" \"\"\n")
	write(ControlFile, "Package: web\nVersion: 1.0\nArchitecture: amd64\n")
	p, err := LoadInstalled(dir)
	if err != nil || p.Key != "web_1.0_amd64" || len(p.Entries) != 1 || p.RelDir(filepath.Dir(filepath.Dir(dir))) != filepath.Join(filepath.Base(filepath.Dir(dir)), "web_1.0_amd64") {
		t.Fatalf("%+v %v", p, err)
	}
	write(ControlFile, "Package: ../web\nVersion: 1.0\nArchitecture: amd64\n")
	if _, err := LoadInstalled(dir); err == nil {
		t.Error("a control naming a path loaded")
	}
	write(ManifestFile, "garbage\n")
	if _, err := LoadInstalled(dir); err == nil {
		t.Error("a bad manifest loaded")
	}
}

func TestScriptError(t *testing.T) {
	long := strings.Repeat("line\n", 30)
	for _, tc := range []struct {
		out  string
		want string
	}{
		{"", "(no output)"},
		{"boom\n", "boom"},
		{long, "...\nline"},
	} {
		e := &ScriptError{Template: "web", Script: "post-install", Err: errors.New("exit status 1"), Output: tc.out}
		if msg := e.Error(); !strings.Contains(msg, "template web: script post-install failed") || !strings.Contains(msg, tc.want) || strings.Count(msg, "line") > 20 {
			t.Errorf("%q", msg)
		}
	}
}

// Select seeds a resolution with what a container has: it is not chosen
// again, and what it provides counts.
func TestResolverSelect(t *testing.T) {
	ix := NewIndex("amd64")
	tmplIndex := "Package: mawk\nVersion: 1\nArchitecture: amd64\nProvides: awk\n\nPackage: gawk\nVersion: 5\nArchitecture: amd64\nProvides: awk\n\nPackage: script\nVersion: 1\nArchitecture: all\nDepends: awk\n"
	if err := ix.ReadIndex(strings.NewReader(tmplIndex), nil, "Packages"); err != nil {
		t.Fatal(err)
	}
	r := ix.NewResolver()
	r.Select(ix.Newest(Relation{Name: "gawk"}))
	cs, _ := ParseRelations("script")
	if err := r.Satisfy(cs[0], ""); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.Chosen() {
		got = append(got, p.Name)
	}
	if !slices.Equal(got, []string{"script"}) {
		t.Errorf("chose %v; gawk, selected, provides awk", got)
	}
}
