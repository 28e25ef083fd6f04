package tmpl

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
	pol := extractPolicy{links: true, maxBytes: 100, maxFiles: 10}
	for name, tc := range map[string]struct {
		members func(tw *tar.Writer)
		pol     extractPolicy
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
		"link not allowed": {func(tw *tar.Writer) { tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "x"}) }, extractPolicy{maxBytes: 100, maxFiles: 10}},
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
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fd, _ := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
			defer unix.Close(fd)
			_, err := extractTar(tarOf(t, tc.members), fd, tc.pol)
			if !errors.Is(err, ErrUnsafeArchive) {
				t.Errorf("err %v, want ErrUnsafeArchive", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "..", "x")); err == nil {
				t.Error("wrote outside")
			}
		})
	}
}
