package fs

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/testenv"
	"golang.org/x/sys/unix"
)

// files is a declarative tree: path -> contents.
type files map[string]string

// world is one mount of a private tree over a template area, all in
// t.TempDir().
type world struct {
	tmpl, priv, mnt string
	srv             *Server
}

func writeFiles(t testing.TB, root string, fs files) {
	t.Helper()
	for p, data := range fs {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// makeLink creates a link entry at priv/path pointing at value.
func makeLink(t testing.TB, priv, path, value string) {
	t.Helper()
	full := filepath.Join(priv, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(full, LinkAttr, []byte(value), 0); err != nil {
		t.Fatal(err)
	}
}

// newWorld builds a template area holding lower, a private tree with a
// link entry for each of them plus upper, and mounts it.
func newWorld(t testing.TB, lower, upper files, opts ...func(*Options)) *world {
	t.Helper()
	testenv.RequireFUSE(t)
	dir := t.TempDir()
	w := &world{
		tmpl: filepath.Join(dir, "template"),
		priv: filepath.Join(dir, "private"),
		mnt:  filepath.Join(dir, "mnt"),
	}
	for _, d := range []string{w.tmpl, w.priv, w.mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, filepath.Join(w.tmpl, "pkg"), lower)
	for p := range lower {
		makeLink(t, w.priv, p, "pkg/"+p)
	}
	writeFiles(t, w.priv, upper)
	w.mount(t, opts...)
	return w
}

func (w *world) mount(t testing.TB, opts ...func(*Options)) {
	t.Helper()
	o := Options{TemplateRoot: w.tmpl, PrivateRoot: w.priv, Logger: testLogger(t), Debug: testing.Verbose() && os.Getenv("EZFS_DEBUG") != ""}
	for _, f := range opts {
		f(&o)
	}
	srv, err := Mount(w.mnt, o)
	if err != nil {
		t.Fatal(err)
	}
	w.srv = srv
	t.Cleanup(func() { w.unmount(t) })
}

func (w *world) unmount(t testing.TB) {
	if w.srv == nil {
		return
	}
	if err := w.srv.Unmount(false); err != nil {
		w.srv.Unmount(true)
	}
	w.srv.Wait()
	w.srv = nil
	testenv.Unmount(t, w.mnt)
}

func (w *world) remount(t testing.TB) {
	w.unmount(t)
	w.mount(t)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
