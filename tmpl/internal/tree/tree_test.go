package tree

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
	"golang.org/x/sys/unix"
)

// The skeleton makes missing parents the same way (a package whose
// manifest has no entries for them).
func TestParentInRootMissing(t *testing.T) {
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	before := openFDs(t)
	dfd, name, err := ParentInRoot(fd, "a/b/file", true)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(dfd)
	if name != "file" {
		t.Errorf("name %q", name)
	}
	if st, err := os.Stat(filepath.Join(dir, "a/b")); err != nil || !st.IsDir() {
		t.Errorf("a/b: %v", err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d fds open before, %d after", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	names, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

func TestCreate(t *testing.T) {
	testenv.RequireRoot(t) // link entries are trusted.* attributes
	dir := t.TempDir()
	tmpltest.Must(t, os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	tmpltest.Must(t, os.Mkdir(filepath.Join(dir, "etc"), 0o755))
	tmpltest.Must(t, os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	tmpltest.Must(t, os.Symlink("/etc", filepath.Join(dir, "hostetc"))) // absolute: the tree's /etc
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	tmpltest.Must(t, err)
	defer unix.Close(root)
	for _, tc := range []struct {
		e     archive.Entry
		value string
		want  string // the path below dir that must exist afterwards, "" for an error
		mode  uint32 // S_IFMT of it
	}{
		{archive.Entry{Type: 'f', Path: "bin/tool", Mode: 0o755, Mtime: 1}, "demo/pkg/usr/bin/tool", "usr/bin/tool", unix.S_IFREG},
		{archive.Entry{Type: 'd', Path: "hostetc/app", Mode: 0o750, Mtime: 1}, "", "etc/app", unix.S_IFDIR},
		{archive.Entry{Type: 'l', Path: "etc/app/link", Link: "../x", Mtime: 1}, "", "etc/app/link", unix.S_IFLNK},
		{archive.Entry{Type: 'h', Path: "etc/app/hard", Link: "usr/bin/tool"}, "", "etc/app/hard", unix.S_IFREG},
		{archive.Entry{Type: 'p', Path: "etc/app/fifo", Mode: 0o600, Mtime: 1}, "", "etc/app/fifo", unix.S_IFIFO},
		{archive.Entry{Type: 'c', Path: "etc/app/null", Mode: 0o666, Dev: unix.Mkdev(1, 3), Mtime: 1}, "", "etc/app/null", unix.S_IFCHR},
		{archive.Entry{Type: 'x', Path: "etc/app/bad"}, "", "", 0},
		{archive.Entry{Type: 'f', Path: "etc/app/badlink"}, "/abs", "", 0},
	} {
		t.Run(tc.e.Path, func(t *testing.T) {
			dirfd, name, err := ParentInRoot(root, tc.e.Path, true)
			tmpltest.Must(t, err)
			defer unix.Close(dirfd)
			err = Create(root, dirfd, name, &tc.e, tc.value)
			if err == nil && tc.e.Type != 'h' {
				err = Meta(dirfd, name, &tc.e)
			}
			if tc.want == "" {
				if err == nil {
					t.Fatal("created")
				}
				return
			}
			tmpltest.Must(t, err)
			var st unix.Stat_t
			tmpltest.Must(t, unix.Lstat(filepath.Join(dir, tc.want), &st))
			if st.Mode&unix.S_IFMT != tc.mode || tc.e.Type != 'l' && tc.e.Type != 'h' && st.Mode&0o7777 != tc.e.Mode {
				t.Errorf("mode %o", st.Mode)
			}
			if tc.value != "" {
				buf := make([]byte, 256)
				n, err := unix.Lgetxattr(filepath.Join(dir, tc.want), linkattr.Name, buf)
				if err != nil || string(buf[:n]) != tc.value {
					t.Errorf("link value %q, %v", buf[:n], err)
				}
			}
		})
	}
	if _, err := os.Lstat("/etc/app"); err == nil {
		t.Error("/etc/app made on the host") // unless the host has one
	}
}
