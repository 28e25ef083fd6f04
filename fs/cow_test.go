package fs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func isLink(t testing.TB, path string) bool {
	t.Helper()
	_, err := unix.Lgetxattr(path, LinkAttr, nil)
	if err != nil && err != unix.ENODATA {
		t.Fatal(err)
	}
	return err == nil
}

func TestLinkReadsAsTemplate(t *testing.T) {
	w := newWorld(t, files{"etc/hosts": "127.0.0.1 localhost\n", "usr/bin/tool": strings.Repeat("x", 100000)}, files{"etc/own": "mine\n"})
	if got := readFile(t, filepath.Join(w.mnt, "etc/hosts")); got != "127.0.0.1 localhost\n" {
		t.Errorf("read through link = %q", got)
	}
	if got := readFile(t, filepath.Join(w.mnt, "etc/own")); got != "mine\n" {
		t.Errorf("private file = %q", got)
	}
	var mst, pst, tst unix.Stat_t
	unix.Lstat(filepath.Join(w.mnt, "usr/bin/tool"), &mst)
	unix.Lstat(filepath.Join(w.priv, "usr/bin/tool"), &pst)
	unix.Lstat(filepath.Join(w.tmpl, "pkg/usr/bin/tool"), &tst)
	if mst.Size != tst.Size || mst.Blocks != tst.Blocks {
		t.Errorf("size/blocks = %d/%d, want the template's %d/%d", mst.Size, mst.Blocks, tst.Size, tst.Blocks)
	}
	if mst.Ino != pst.Ino {
		t.Errorf("ino = %d, want the private tree's %d", mst.Ino, pst.Ino)
	}
	w.remount(t)
	var again unix.Stat_t
	unix.Lstat(filepath.Join(w.mnt, "usr/bin/tool"), &again)
	if again.Ino != mst.Ino {
		t.Errorf("ino changed across remount: %d -> %d", mst.Ino, again.Ino)
	}
	if s := w.srv.Stats(); s.PassthroughOpens == 0 && w.srv.Passthrough() {
		t.Logf("stats %+v", s)
	}
}

func TestWriteCopiesUpAndSurvivesRemount(t *testing.T) {
	w := newWorld(t, files{"etc/hosts": "127.0.0.1 localhost\n"}, nil)
	f, err := os.OpenFile(filepath.Join(w.mnt, "etc/hosts"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("10.0.0.2 ct\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := "127.0.0.1 localhost\n10.0.0.2 ct\n"
	if got := readFile(t, filepath.Join(w.mnt, "etc/hosts")); got != want {
		t.Errorf("after append: %q", got)
	}
	if got := readFile(t, filepath.Join(w.tmpl, "pkg/etc/hosts")); got != "127.0.0.1 localhost\n" {
		t.Errorf("template changed: %q", got)
	}
	if isLink(t, filepath.Join(w.priv, "etc/hosts")) {
		t.Error("entry still carries the link attribute after copy-up")
	}
	if got := w.srv.Stats().CopyUps; got != 1 {
		t.Errorf("copy-ups = %d, want 1", got)
	}
	w.remount(t)
	if got := readFile(t, filepath.Join(w.mnt, "etc/hosts")); got != want {
		t.Errorf("after remount: %q", got)
	}
}

func TestMetadataChangesCopyNothing(t *testing.T) {
	w := newWorld(t, files{"bin/sh": "#!shell\n"}, nil)
	p := filepath.Join(w.mnt, "bin/sh")
	if err := os.Chmod(p, 0o4711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 123, 456); err != nil {
		t.Fatal(err)
	}
	if err := unix.UtimesNano(p, []unix.Timespec{{Sec: 1000}, {Sec: 2000}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(p, "user.note", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 123 || st.Gid != 456 || st.Mtim.Sec != 2000 || st.Size != 8 {
		t.Errorf("stat = uid %d gid %d mtime %d size %d", st.Uid, st.Gid, st.Mtim.Sec, st.Size)
	}
	if !isLink(t, filepath.Join(w.priv, "bin/sh")) {
		t.Error("metadata change copied the link up")
	}
	var pst unix.Stat_t
	unix.Stat(filepath.Join(w.priv, "bin/sh"), &pst)
	if pst.Size != 0 || pst.Uid != 123 {
		t.Errorf("entry size %d uid %d, want 0 and 123", pst.Size, pst.Uid)
	}
	var tst unix.Stat_t
	unix.Stat(filepath.Join(w.tmpl, "pkg/bin/sh"), &tst)
	if tst.Uid == 123 || tst.Mode&07777 != 0o644 {
		t.Errorf("template metadata changed: uid %d mode %o", tst.Uid, tst.Mode)
	}
	if got := w.srv.Stats().CopyUps; got != 0 {
		t.Errorf("copy-ups = %d", got)
	}
}

func TestHardLinksSurviveCopyUp(t *testing.T) {
	w := newWorld(t, files{"a": "template\n"}, nil)
	if err := os.Link(filepath.Join(w.priv, "a"), filepath.Join(w.priv, "b")); err != nil {
		t.Fatal(err)
	}
	w.remount(t)
	// Both names are looked up (and cached) before the copy-up.
	readFile(t, filepath.Join(w.mnt, "b"))
	if err := os.WriteFile(filepath.Join(w.mnt, "a"), []byte("changed\n"), 0); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(w.mnt, "b")); got != "changed\n" {
		t.Errorf("other name reads %q", got)
	}
	var sa, sb unix.Stat_t
	unix.Stat(filepath.Join(w.mnt, "a"), &sa)
	unix.Stat(filepath.Join(w.mnt, "b"), &sb)
	if sa.Ino != sb.Ino || sa.Nlink != 2 || sb.Size != 8 {
		t.Errorf("a ino %d nlink %d, b ino %d size %d", sa.Ino, sa.Nlink, sb.Ino, sb.Size)
	}
	if got := readFile(t, filepath.Join(w.tmpl, "pkg/a")); got != "template\n" {
		t.Errorf("template changed: %q", got)
	}
}

// A reader holds a link open (its passthrough backing is the template
// file) while another process writes the same name.
func TestReaderOpenWhileWriterCopiesUp(t *testing.T) {
	w := newWorld(t, files{"data": "old contents\n"}, nil)
	p := filepath.Join(w.mnt, "data")
	r, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wf, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wf.WriteAt([]byte("NEW"), 0); err != nil {
		t.Fatal(err)
	}
	wf.Close()
	if got := readFile(t, filepath.Join(w.tmpl, "pkg/data")); got != "old contents\n" {
		t.Fatalf("template changed: %q", got)
	}
	buf := make([]byte, 64)
	n, _ := r.ReadAt(buf, 0)
	if got := string(buf[:n]); got != "old contents\n" {
		t.Errorf("old reader reads %q", got)
	}
	if got := readFile(t, p); got != "NEW contents\n" {
		t.Errorf("new open reads %q", got)
	}
}

func TestConcurrentOpensCopyOnce(t *testing.T) {
	w := newWorld(t, files{"big": strings.Repeat("0123456789", 100000)}, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(filepath.Join(w.mnt, "big"), os.O_RDWR, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.Close()
		}()
	}
	wg.Wait()
	if got := w.srv.Stats().CopyUps; got != 1 {
		t.Errorf("copy-ups = %d, want 1", got)
	}
	if got := readFile(t, filepath.Join(w.mnt, "big")); len(got) != 1000000 {
		t.Errorf("copy has %d bytes", len(got))
	}
}

func TestTruncateLink(t *testing.T) {
	w := newWorld(t, files{"t1": "0123456789", "t2": "0123456789"}, nil)
	if err := os.Truncate(filepath.Join(w.mnt, "t1"), 3); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(w.mnt, "t1")); got != "012" {
		t.Errorf("truncate(3) = %q", got)
	}
	f, err := os.OpenFile(filepath.Join(w.mnt, "t2"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := readFile(t, filepath.Join(w.mnt, "t2")); got != "" {
		t.Errorf("O_TRUNC = %q", got)
	}
	for _, n := range []string{"t1", "t2"} {
		if got := readFile(t, filepath.Join(w.tmpl, "pkg", n)); got != "0123456789" {
			t.Errorf("template %s changed: %q", n, got)
		}
	}
}

func TestRenameAndUnlinkLinks(t *testing.T) {
	w := newWorld(t, files{"a": "A", "b": "B"}, nil)
	if err := os.Rename(filepath.Join(w.mnt, "a"), filepath.Join(w.mnt, "c")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(w.mnt, "c")); got != "A" {
		t.Errorf("renamed link reads %q", got)
	}
	if err := os.Remove(filepath.Join(w.mnt, "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(w.mnt, "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after unlink: %v", err)
	}
	for _, n := range []string{"a", "b"} {
		if _, err := os.Stat(filepath.Join(w.tmpl, "pkg", n)); err != nil {
			t.Errorf("template file %s: %v", n, err)
		}
	}
	names, _ := os.ReadDir(w.mnt)
	if len(names) != 1 || names[0].Name() != "c" {
		t.Errorf("listing = %v", names)
	}
}

func TestPrivateAttrsHiddenAndImmutable(t *testing.T) {
	w := newWorld(t, files{"l": "L"}, files{"own": "O"})
	for _, n := range []string{"l", "own"} {
		p := filepath.Join(w.mnt, n)
		if err := unix.Setxattr(p, LinkAttr, []byte("pkg/l"), 0); err != unix.EPERM {
			t.Errorf("%s: forging the link attribute: %v, want EPERM", n, err)
		}
		if err := unix.Removexattr(p, LinkAttr); err != unix.EPERM {
			t.Errorf("%s: removing the link attribute: %v, want EPERM", n, err)
		}
		if _, err := unix.Getxattr(p, LinkAttr, make([]byte, 100)); err != unix.ENODATA {
			t.Errorf("%s: reading the link attribute: %v, want ENODATA", n, err)
		}
		buf := make([]byte, 1000)
		sz, err := unix.Listxattr(p, buf)
		if err != nil || bytes.Contains(buf[:sz], []byte("ezfs")) {
			t.Errorf("%s: listxattr = %q, %v", n, buf[:sz], err)
		}
	}
	if got := readFile(t, filepath.Join(w.mnt, "own")); got != "O" {
		t.Errorf("own file reads %q", got)
	}
}

func TestBadLinksAreEIO(t *testing.T) {
	w := newWorld(t, nil, nil)
	os.WriteFile(filepath.Join(filepath.Dir(w.tmpl), "secret"), []byte("host secret"), 0o600)
	os.MkdirAll(filepath.Join(w.tmpl, "pkg"), 0o755)
	os.WriteFile(filepath.Join(w.tmpl, "pkg/real"), []byte("r"), 0o644)
	os.Symlink("..", filepath.Join(w.tmpl, "pkg/up"))
	os.Symlink("real", filepath.Join(w.tmpl, "pkg/sym"))
	bad := map[string]string{
		"escape":   "../secret",
		"absolute": "/etc/passwd",
		"viaup":    "pkg/up/secret",
		"symlink":  "pkg/sym",
		"dot":      "pkg/./real",
		"missing":  "pkg/nothing",
		"dir":      "pkg",
	}
	for name, value := range bad {
		makeLink(t, w.priv, name, value)
	}
	w.remount(t)
	for name := range bad {
		_, err := os.ReadFile(filepath.Join(w.mnt, name))
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("%s: read = %v, want EIO", name, err)
		}
		// A bad link can still be seen and removed.
		if err := os.Remove(filepath.Join(w.mnt, name)); err != nil {
			t.Errorf("%s: remove: %v", name, err)
		}
	}
	if got := w.srv.Stats().BadLinks; got < int64(len(bad)) {
		t.Errorf("bad links counted: %d", got)
	}
}

func TestContainerSymlinkNotFollowedByDaemon(t *testing.T) {
	w := newWorld(t, nil, nil)
	host := filepath.Join(filepath.Dir(w.tmpl), "hostfile")
	os.WriteFile(host, []byte("host"), 0o600)
	unix.Setxattr(host, "user.secret", []byte("s"), 0)
	if err := os.Symlink(host, filepath.Join(w.mnt, "evil")); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(w.mnt, "evil"), "user.secret", make([]byte, 10)); err == nil {
		t.Error("lgetxattr on a container symlink reached the host file")
	}
	if err := unix.Lchown(filepath.Join(w.mnt, "evil"), 4321, 4321); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Stat(host, &st)
	if st.Uid == 4321 {
		t.Error("lchown on a container symlink changed the host file")
	}
	if got, _ := os.Readlink(filepath.Join(w.mnt, "evil")); got != host {
		t.Errorf("readlink = %q", got)
	}
}

func TestNamesAndPaths(t *testing.T) {
	w := newWorld(t, nil, nil)
	long := strings.Repeat("n", 256)
	if err := os.WriteFile(filepath.Join(w.mnt, long), nil, 0o644); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("create 256-byte name: %v", err)
	}
	if err := os.Mkdir(filepath.Join(w.mnt, long), 0o755); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("mkdir 256-byte name: %v", err)
	}
	ok := strings.Repeat("n", 255)
	if err := os.WriteFile(filepath.Join(w.mnt, ok), []byte("x"), 0o644); err != nil {
		t.Errorf("create 255-byte name: %v", err)
	}
	// A deep tree, walked one directory at a time as a process with
	// its cwd inside would; the backing path grows past PATH_MAX.
	fd, err := unix.Open(w.mnt, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	seg := strings.Repeat("d", 200)
	for i := 0; i < 30; i++ {
		if err := unix.Mkdirat(fd, seg, 0o755); err != nil {
			t.Fatalf("depth %d: %v", i, err)
		}
		nfd, err := unix.Openat(fd, seg, unix.O_PATH|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("depth %d: %v", i, err)
		}
		fd = nfd
	}
	defer unix.Close(fd)
	wfd, err := unix.Openat(fd, "leaf", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("create below %d bytes of path: %v", 30*201, err)
	}
	unix.Close(wfd)
}

func TestCreateKeepsSetIDBits(t *testing.T) {
	w := newWorld(t, nil, nil)
	p := filepath.Join(w.mnt, "suid")
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_WRONLY, 0o6755)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	var st unix.Stat_t
	unix.Stat(p, &st)
	if st.Mode&07777 != 0o6755 {
		t.Errorf("mode = %o, want 6755", st.Mode&07777)
	}
	// A set-group-ID directory hands its group and the bit down, as on
	// a local filesystem.
	sgid := filepath.Join(w.mnt, "sgid")
	if err := unix.Mkdir(sgid, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chown(sgid, 0, 777); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(sgid, 0o2775); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkdir(filepath.Join(sgid, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sgid, "file"), nil, 0o644)
	for _, n := range []string{"sub", "file"} {
		unix.Stat(filepath.Join(sgid, n), &st)
		if st.Gid != 777 {
			t.Errorf("%s: gid %d, want the directory's 777", n, st.Gid)
		}
	}
	unix.Stat(filepath.Join(sgid, "sub"), &st)
	if st.Mode&unix.S_ISGID == 0 {
		t.Errorf("subdirectory mode %o lacks set-group-ID", st.Mode)
	}
}

func TestSocketStays(t *testing.T) {
	w := newWorld(t, nil, nil)
	p := filepath.Join(w.mnt, "sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: p}); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		t.Errorf("socket: mode %o, %v", st.Mode, err)
	}
}

// Changes made behind the mount (as mountd does for template installs
// and updates) show once invalidated, though the kernel caches entries,
// negative lookups and listings for an hour.
func TestInvalidateChangesBehindTheMount(t *testing.T) {
	w := newWorld(t, files{"usr/bin/tool": "v1\n"}, nil)
	writeFiles(t, filepath.Join(w.tmpl, "pkg2"), files{"usr/bin/tool": "version two\n", "usr/bin/new": "new\n"})
	readFile(t, filepath.Join(w.mnt, "usr/bin/tool"))
	if _, err := os.Stat(filepath.Join(w.mnt, "usr/bin/new")); err == nil {
		t.Fatal("new exists before it was added")
	}
	names, _ := os.ReadDir(filepath.Join(w.mnt, "usr/bin"))
	if len(names) != 1 {
		t.Fatalf("listing: %v", names)
	}
	// Relink tool to the new package, add new.
	if err := unix.Lsetxattr(filepath.Join(w.priv, "usr/bin/tool"), LinkAttr, []byte("pkg2/usr/bin/tool"), 0); err != nil {
		t.Fatal(err)
	}
	makeLink(t, w.priv, "usr/bin/new", "pkg2/usr/bin/new")
	old, err := os.Open(filepath.Join(w.mnt, "usr/bin/tool"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	w.srv.Invalidate([]string{"usr/bin/tool", "usr/bin/new"})
	if got := readFile(t, filepath.Join(w.mnt, "usr/bin/tool")); got != "version two\n" {
		t.Errorf("tool after relink: %q", got)
	}
	var st unix.Stat_t
	unix.Stat(filepath.Join(w.mnt, "usr/bin/tool"), &st)
	if st.Size != int64(len("version two\n")) {
		t.Errorf("tool size %d after relink", st.Size)
	}
	if got := readFile(t, filepath.Join(w.mnt, "usr/bin/new")); got != "new\n" {
		t.Errorf("new: %q", got)
	}
	names, _ = os.ReadDir(filepath.Join(w.mnt, "usr/bin"))
	if len(names) != 2 {
		t.Errorf("listing after invalidate: %v", names)
	}
	buf := make([]byte, 10)
	n, _ := old.ReadAt(buf, 0)
	if string(buf[:n]) != "v1\n" {
		t.Errorf("a file open before the relink reads %q", buf[:n])
	}
	if ops := w.srv.Ops(); ops["LOOKUP"] == 0 {
		t.Errorf("ops: %v", ops)
	}
}

// A container root keeps setuid programs and device nodes working: no
// nosuid, no nodev unless asked.
func TestMountAllowsSetuidAndDevices(t *testing.T) {
	w := newWorld(t, nil, nil)
	var st unix.Statfs_t
	if err := unix.Statfs(w.mnt, &st); err != nil {
		t.Fatal(err)
	}
	if st.Flags&(unix.ST_NOSUID|unix.ST_NODEV) != 0 {
		t.Errorf("mount flags %#x: nosuid or nodev", st.Flags)
	}
	w2 := newWorld(t, nil, nil, func(o *Options) { o.NoSetuid, o.NoDevices = true, true })
	unix.Statfs(w2.mnt, &st)
	if st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NODEV == 0 {
		t.Errorf("asked for nosuid,nodev, got flags %#x", st.Flags)
	}
	// A device node made in the container works.
	if err := unix.Mknod(filepath.Join(w.mnt, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(w.mnt, "null"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("open a device node in the mount: %v", err)
	}
	f.Close()
}

// TestTemplateDirectoryReplaced: a package directory of the template
// area removed (gc) and installed again is found again, although the
// daemon kept an fd of the old one.
func TestTemplateDirectoryReplaced(t *testing.T) {
	w := newWorld(t, files{"usr/bin/tool": "v1\n"}, nil)
	p := filepath.Join(w.mnt, "usr/bin/tool")
	if got := readFile(t, p); got != "v1\n" {
		t.Fatalf("tool = %q", got)
	}
	if err := os.Rename(filepath.Join(w.tmpl, "pkg"), filepath.Join(w.tmpl, ".old")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(w.tmpl, ".old")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(w.tmpl, "pkg"), files{"usr/bin/tool": "v1\n"})
	if got := readFile(t, p); got != "v1\n" {
		t.Errorf("tool after its package was installed again = %q", got)
	}
	if n := w.srv.Stats().BadLinks; n != 0 {
		t.Errorf("%d bad links", n)
	}
}
