package atfile

import (
	"sort"
	"strings"

	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"testing"
)

// tree makes a root with var -> host (an absolute symlink out of it) and
// a host directory beside it that must never be touched.
func tree(t *testing.T) (*Root, string, string) {
	t.Helper()
	base := t.TempDir()
	root, host := filepath.Join(base, "root"), filepath.Join(base, "host")
	for _, d := range []string{root, host} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(host, "keep"), []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(root, "var")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../"+filepath.Base(host)+"/keep", filepath.Join(root, "up")); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, root, host
}

func hostUntouched(t *testing.T, host string) {
	t.Helper()
	names, _ := os.ReadDir(host)
	if len(names) != 1 {
		t.Errorf("host directory holds %v, want only keep", names)
	}
	if b, err := os.ReadFile(filepath.Join(host, "keep")); err != nil || string(b) != "keep\n" {
		t.Errorf("host file: %q %v", b, err)
	}
}

func TestSymlinksStayInside(t *testing.T) {
	r, root, host := tree(t)
	// var leads to <root>/<host path>, which does not exist in the tree.
	if err := r.Create("var/x", []byte("x"), 0o600); err == nil {
		t.Error("created through a symlink to a host directory")
	}
	if err := r.MkdirAll("var/sub", 0o755); err == nil {
		t.Error("made a directory through a symlink to a host directory")
	}
	// With its target made inside the tree, the symlink leads there.
	if err := r.MkdirAll(host+"/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Create("var/sub/x", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, host, "sub", "x")); err != nil {
		t.Errorf("the file did not land inside the tree: %v", err)
	}
	if _, err := r.ReadFile("up"); err == nil {
		t.Error("read through a symlink as the last element")
	}
	if err := r.Create("up", nil, 0o600); err == nil {
		t.Error("created over an existing symlink")
	}
	if err := r.Replace("up", []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := r.ReadFile("up"); string(b) != "new" {
		t.Errorf("replace: %q", b)
	}
	if err := r.Remove("var"); err != nil {
		t.Fatal(err)
	}
	hostUntouched(t, host)
	if _, err := os.Lstat(filepath.Join(root, "var")); !os.IsNotExist(err) {
		t.Errorf("the symlink itself was not removed: %v", err)
	}
}

func TestParentDotDot(t *testing.T) {
	r, _, host := tree(t)
	// .. stops at the root, as in a chroot: ../../host is <root>/host.
	if err := r.Create("../../host/new", []byte("x"), 0o600); err == nil {
		t.Error("created in the host directory")
	}
	if err := r.MkdirAll("../../host", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Create("../../host/new", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lstat("/host/new"); err != nil {
		t.Error(err)
	}
	hostUntouched(t, host)
}

func TestWalkDoesNotFollow(t *testing.T) {
	r, root, host := tree(t)
	if err := os.MkdirAll(filepath.Join(root, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a/b/f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(root, "a/h")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	err := Walk(r.FD(), func(dirfd int, name, rel string, st *unix.Stat_t) error {
		seen = append(seen, rel)
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			f, err := OpenRegular(dirfd, name, unix.O_RDONLY, st)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
			} else {
				f.Close()
			}
		}
		if rel == "a/h" {
			if _, err := OpenRegular(dirfd, name, unix.O_RDONLY, nil); err == nil {
				t.Error("opened through a symlink")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(seen)
	if got := strings.Join(seen, " "); got != "a a/b a/b/f a/h up var" {
		t.Errorf("walked %s", got)
	}
}
