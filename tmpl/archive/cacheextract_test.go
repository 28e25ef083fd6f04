package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/internal/xattrat"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// treeState is what a cache must carry of each path.
type treeState struct {
	Mode  fs.FileMode
	UID   uint32
	GID   uint32
	Mtime int64
	Link  string // symlink target
	Attr  string // the link attribute
	Data  string
	Inode int // which hard-link group, 0 for none
}

func readTreeState(t *testing.T, root string) map[string]treeState {
	t.Helper()
	out := map[string]treeState{}
	groups := map[uint64]int{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		info, _ := d.Info()
		s := treeState{Mode: info.Mode(), UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Sec}
		if info.Mode()&fs.ModeSymlink != 0 {
			s.Link, _ = os.Readlink(p)
		} else {
			buf := make([]byte, 4096)
			if n, err := unix.Lgetxattr(p, linkattr.Name, buf); err == nil {
				s.Attr = string(buf[:n])
			}
		}
		if info.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			s.Data = string(b)
			if st.Nlink > 1 {
				if groups[st.Ino] == 0 {
					groups[st.Ino] = len(groups) + 1
				}
				s.Inode = groups[st.Ino]
			}
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExtractCacheRoundTrip writes a tree like a container's as a cache
// and unpacks it: every owner, mode, time, link attribute, symlink and
// hard link comes back, with setxattrat and with the path through /proc
// that older kernels take.
func TestExtractCacheRoundTrip(t *testing.T) {
	testenv.RequireRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	mtime := time.Unix(1_600_000_000, 0)
	// More files than the workers' batches hold, over several directories.
	for d := 0; d < 12; d++ {
		dir := filepath.Join(src, "root", fmt.Sprintf("d%02d", d), "sub")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < 90; f++ {
			p := filepath.Join(dir, fmt.Sprintf("f%03d", f))
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			val := fmt.Sprintf("debian/12/x86_64/pkg%d_1.0_amd64/d%02d/sub/f%03d", d, d, f)
			if err := unix.Lsetxattr(p, linkattr.Name, []byte(val), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	special := filepath.Join(src, "root", "d00", "sub", "f000")
	os.Chown(special, 1000, 1001)
	os.Chmod(special, 0o4755) // set-id bits survive the chown that comes first
	os.MkdirAll(filepath.Join(src, "templates"), 0o755)
	os.WriteFile(filepath.Join(src, "templates", "vzpackages"), []byte("bash 5.2 amd64 debian-12-x86_64\n"), 0o644)
	// Larger than what is read ahead into memory: read in place.
	big := make([]byte, 3*aheadInMemory+5)
	for i := range big {
		big[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(src, "root", "big"), big, 0o644)
	os.Symlink("/usr/bin/env", filepath.Join(src, "root", "env"))
	os.Link(filepath.Join(src, "root", "d01", "sub", "f001"), filepath.Join(src, "root", "hard"))
	os.Chown(filepath.Join(src, "root", "d02"), 7, 8)
	os.Chmod(filepath.Join(src, "root", "d02"), 0o750)
	os.Chmod(filepath.Join(src, "root", "d03"), 0o775|fs.ModeSetgid) // mkdir alone drops set-id bits
	os.Chmod(filepath.Join(src, "root", "d04"), 0o555)               // no write bit: its files are made anyway
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	tarball := filepath.Join(t.TempDir(), "c.tar.gz")
	f, err := os.Create(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTree(f, src); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := readTreeState(t, src)

	for _, proc := range []bool{false, true} {
		t.Run(fmt.Sprintf("proc=%v", proc), func(t *testing.T) {
			xattrat.UseProc(proc)
			t.Cleanup(func() { xattrat.UseProc(false) })
			dst := filepath.Join(t.TempDir(), "ct")
			os.Mkdir(dst, 0o700)
			if err := ExtractCache(tarball, dst); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, readTreeState(t, dst)); diff != "" {
				t.Errorf("extracted tree differs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExtractCacheTruncated: a cache cut short is refused with an error,
// whether it ends in a member read ahead into memory or in one read in
// place, and the reading goroutine ends.
func TestExtractCacheTruncated(t *testing.T) {
	testenv.RequireRoot(t)
	for _, size := range []int{100, 3 * aheadInMemory} {
		var raw bytes.Buffer
		tw := tar.NewWriter(&raw)
		tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)})
		tw.Write(make([]byte, size))
		tw.Close()
		cut := raw.Bytes()[:512+size/2]
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(cut)
		zw.Close()
		tarball := filepath.Join(t.TempDir(), "c.tar.gz")
		os.WriteFile(tarball, gz.Bytes(), 0o644)
		dst := filepath.Join(t.TempDir(), "ct")
		os.Mkdir(dst, 0o700)
		if err := ExtractCache(tarball, dst); !errors.Is(err, ErrUnsafe) {
			t.Errorf("member of %d bytes cut in half: %v, want ErrUnsafe", size, err)
		}
	}
}
