package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ezfs/ezfs/internal/testenv"
	"golang.org/x/sys/unix"
)

func TestSymlinkInside(t *testing.T) {
	for _, tc := range []struct {
		link, target string
		ok           bool
	}{
		{"bin", "usr/bin", true}, {"usr/bin/awk", "/etc/alternatives/awk", true}, {"a/b/c", "../../x", true},
		{"a/b/c", "../../../x", false}, {"a", "..", false}, {"x", "/../etc", true}, {"x", "", false},
		{"usr/lib/l.so", "l.so.1", true},
	} {
		if got := symlinkInside(tc.link, tc.target); got != tc.ok {
			t.Errorf("symlinkInside(%q, %q) = %v", tc.link, tc.target, got)
		}
	}
}

func tarOf(t *testing.T, members func(tw *tar.Writer)) *bytes.Buffer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	members(tw)
	tw.Close()
	return &buf
}

func TestExtractRefusals(t *testing.T) {
	testenv.RequireRoot(t)
	reg := func(tw *tar.Writer, name, data string) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write([]byte(data))
	}
	pol := Policy{Links: true, MaxBytes: 100, MaxFiles: 10}
	for name, tc := range map[string]struct {
		members func(tw *tar.Writer)
		pol     Policy
	}{
		"traversal": {func(tw *tar.Writer) { reg(tw, "a/../../x", "x") }, pol},
		"absolute":  {func(tw *tar.Writer) { reg(tw, "/etc/x", "x") }, pol},
		"duplicate": {func(tw *tar.Writer) { reg(tw, "a", "x"); reg(tw, "./a", "y") }, pol},
		"bomb":      {func(tw *tar.Writer) { reg(tw, "a", string(make([]byte, 101))) }, pol},
		"too many": {func(tw *tar.Writer) {
			for i := 0; i < 11; i++ {
				reg(tw, string(rune('a'+i)), "")
			}
		}, pol},
		"escaping link": {func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../x"})
		}, pol},
		"link not allowed": {func(tw *tar.Writer) { tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "x"}) }, Policy{MaxBytes: 100, MaxFiles: 10}},
		"symlink then write": {func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/"})
			reg(tw, "d/x", "x")
		}, pol},
		"hard link to nothing": {func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "etc/passwd"})
		}, pol},
		"device": {func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "d", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3})
		}, pol},
		// A tar package may have devices, never a FIFO (docs/TEMPLATES.md).
		"fifo in a package": {func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "run/pipe", Typeflag: tar.TypeFifo, Mode: 0o644})
		}, Policy{Links: true, Devices: true, MaxBytes: 100, MaxFiles: 10}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fd, _ := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
			defer unix.Close(fd)
			_, err := Extract(tarOf(t, tc.members), fd, tc.pol)
			if !errors.Is(err, ErrUnsafe) {
				t.Errorf("err %v, want ErrUnsafe", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "..", "x")); err == nil {
				t.Error("wrote outside")
			}
		})
	}
}

// A tar that lists a/b/file without entries for a and a/b: the parents
// are made (an earlier version lost them to a shadowed err and leaked
// the fd of each).
func TestExtractMissingParents(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	before := openFDs(t)
	buf := tarOf(t, func(tw *tar.Writer) {
		tw.WriteHeader(&tar.Header{Name: "a/b/file", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
		tw.Write([]byte("x\n"))
	})
	entries, err := Extract(buf, fd, Policy{MaxBytes: 100, MaxFiles: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("entries %+v", entries)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a/b/file")); err != nil || string(b) != "x\n" {
		t.Errorf("a/b/file: %q %v", b, err)
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
