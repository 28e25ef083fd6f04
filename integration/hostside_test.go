package integration

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Host-side attacks (issue 14): a repository, a container or a host
// user trying to make ezctl read, write or remove outside the template
// area and the container.

// writeRawPackage writes a tar package under file with the given control
// stanza and returns its Packages stanza (Filename, Size, SHA256 added).
func writeRawPackage(t *testing.T, repo, file, control string, files map[string]string) string {
	t.Helper()
	must(t, os.MkdirAll(repo, 0o755))
	p := filepath.Join(repo, file)
	f, err := os.Create(p)
	must(t, err)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	add := func(name, data string) {
		must(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}))
		_, err := tw.Write([]byte(data))
		must(t, err)
	}
	add(".ezfs/control", control)
	for name, data := range files {
		must(t, tw.WriteHeader(&tar.Header{Name: filepath.Dir(name) + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
		add(name, data)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	must(t, f.Close())
	data, err := os.ReadFile(p)
	must(t, err)
	sum := sha256.Sum256(data)
	return fmt.Sprintf("%sFilename: %s\nSize: %d\nSHA256: %s\n", control, file, len(data), hex.EncodeToString(sum[:]))
}

// everything lists the paths below dir.
func everything(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// Finding 1: a package name from a repository index that is a path.
func TestHostileRepositoryPackageName(t *testing.T) {
	n := newNode(t)
	top := filepath.Dir(n.vz)
	outside := filepath.Join(top, "outside") // stands for /var/tmp
	must(t, os.MkdirAll(outside, 0o755))
	// From <area>/demo/1/x86_64, five ".." reach top.
	evil := "../../../../../outside/PWN"
	var index strings.Builder
	index.WriteString(writeRawPackage(t, n.repo, "pwn_1.0_amd64.tar.gz",
		"Package: "+evil+"\nVersion: 1.0\nArchitecture: amd64\n", map[string]string{"etc/pwned": "pwned\n"}) + "\n")
	index.WriteString(writeRawPackage(t, n.repo, "victim_1.0_amd64.tar.gz",
		"Package: victim\nVersion: 1.0\nArchitecture: amd64\nDepends: "+evil+"\n", map[string]string{"etc/victim": "v\n"}) + "\n")
	writeFile(t, filepath.Join(n.repo, "Packages"), index.String())
	writeTemplate(t, n.src, "demo/1/x86_64/config/os/default", files{
		"packages": "victim\n", "package_manager": "tar\n", "repositories": n.repo + "\n", "summary": "Demo OS\n",
	})
	n.ok(t, "template", "install", n.src)
	n.fails(t, "bad package name", "cache", "create", "demo-1-x86_64")
	if left := everything(t, outside); len(left) != 1 {
		t.Errorf("cache create wrote outside the template area: %v", left[1:])
	}
	for _, p := range everything(t, top) {
		if strings.Contains(p, "PWN") {
			t.Errorf("%s was made", p)
		}
	}
	// The same name in a template's packages file is refused at install.
	writeTemplate(t, n.src, "demo/1/x86_64/config/app/evil/default", files{"packages": "victim\n" + evil + "\n", "summary": "x\n"})
	out := n.fails(t, "line 2", "template", "install", n.src)
	if !strings.Contains(out, "packages") || !strings.Contains(out, "bad package name") {
		t.Errorf("the error does not name the file and the name: %s", out)
	}
}

// Issue 18: several names on a line of a packages file, as vzpkg reads
// them, with a version restriction kept with its name.
func TestPackagesFileSeveralPerLine(t *testing.T) {
	n := newNode(t)
	n.demoRepo(t)
	writeTemplate(t, n.src, "demo/1/x86_64/config/os/default", files{
		"packages": "base-files tool (>= 1:1.0)\nnano\n", "package_manager": "tar\n", "repositories": n.repo + "\n", "summary": "Demo OS\n",
	})
	n.ok(t, "template", "install", n.src)
	n.ok(t, "cache", "create", "demo-1-x86_64")
	members := readCache(t, filepath.Join(n.area(), "cache", "demo-1-x86_64.tar.gz"))
	for _, want := range []string{"tool 1:1.5-2", "base-files 1.0", "nano 7.2"} {
		if !strings.Contains(members["templates/vzpackages"].data, want) {
			t.Errorf("vzpackages lacks %q: %s", want, members["templates/vzpackages"].data)
		}
	}
}

// watchCreates reports the names created in dir from now on.
func watchCreates(t *testing.T, dir string) func() []string {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	must(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	_, err = unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE)
	must(t, err)
	return func() []string {
		var names []string
		buf := make([]byte, 64<<10)
		for {
			k, err := unix.Read(fd, buf)
			if err != nil || k <= 0 {
				return names
			}
			for off := 0; off+unix.SizeofInotifyEvent <= k; {
				ev := (*unix.InotifyEvent)(unsafePointer(&buf[off]))
				name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				names = append(names, name)
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// hostDir makes a host directory holding one file, keep.
func hostDir(t *testing.T, n *node, name string) string {
	t.Helper()
	d := filepath.Join(filepath.Dir(n.vz), name)
	must(t, os.MkdirAll(d, 0o755))
	writeFile(t, filepath.Join(d, ".ezfs-important"), "keep\n")
	return d
}

func checkHostDir(t *testing.T, d string) {
	t.Helper()
	names, err := os.ReadDir(d)
	must(t, err)
	if len(names) != 1 {
		t.Errorf("host directory %s holds %v", d, names)
	}
	if got := readFile(t, filepath.Join(d, ".ezfs-important")); got != "keep\n" {
		t.Errorf("host file changed: %q", got)
	}
}

// Finding 2: the container's /tmp is a symlink to a host directory; the
// post-install script must not be written there.
func TestScriptNotWrittenThroughContainerSymlink(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64")
	host := hostDir(t, n, "hostdir")
	tmp := filepath.Join(n.priv("101"), "root/tmp")
	must(t, os.RemoveAll(tmp))
	must(t, os.Symlink(host, tmp))
	created := watchCreates(t, host)
	out, err := n.ezctl(t, "install", "101", "web")
	t.Logf("install: %v\n%s", err, out)
	if names := created(); len(names) > 0 {
		t.Errorf("install wrote into the host directory: %v", names)
	}
	checkHostDir(t, host)
	// Mounted, through the mount, the same.
	n.ok(t, "mount", "101")
	defer n.ok(t, "umount", "101")
	out, err = n.ezctl(t, "remove", "101", "web")
	t.Logf("remove: %v\n%s", err, out)
	if names := created(); len(names) > 0 {
		t.Errorf("remove wrote into the host directory: %v", names)
	}
	checkHostDir(t, host)
}

// Finding 3: fsck must not remove through the container's /tmp symlink.
func TestFsckDoesNotFollowContainerTmp(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "104", "--ostemplate", "demo-1-x86_64")
	host := hostDir(t, n, "hostdir")
	tmp := filepath.Join(n.priv("104"), "root/tmp")
	must(t, os.RemoveAll(tmp))
	must(t, os.Symlink(host, tmp))
	n.ezctl(t, "fsck", "104")
	checkHostDir(t, host)
}

// Finding 8: fsck of container 7 leaves the staging of container 7-9.
func TestFsckStagingNamesExact(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "7", "--ostemplate", "demo-1-x86_64")
	parent := filepath.Dir(n.priv("7"))
	for _, d := range []string{".new-7-9-12345", ".destroy-7-9-12345", ".new-7-4242"} {
		must(t, os.MkdirAll(filepath.Join(parent, d, "keep"), 0o700))
	}
	out := n.ok(t, "fsck", "7")
	if !strings.Contains(out, ".new-7-4242") {
		t.Errorf("fsck 7 did not report its own staging:\n%s", out)
	}
	for _, d := range []string{".new-7-9-12345", ".destroy-7-9-12345"} {
		if _, err := os.Stat(filepath.Join(parent, d, "keep")); err != nil {
			t.Errorf("fsck 7 removed %s, container 7-9's: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(parent, ".new-7-4242")); !os.IsNotExist(err) {
		t.Errorf(".new-7-4242 left: %v", err)
	}
}

// Finding 7: every command that takes a CTID checks it.
func TestCTIDCheckedEverywhere(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64")
	must(t, os.MkdirAll(filepath.Join(n.vz, "x"), 0o755))
	for _, args := range [][]string{
		{"mount", "../x"}, {"mount", ".."}, {"exec", "../x", "--", "true"}, {"install", "../x", "web"},
		{"update", "../x"}, {"remove", "../x", "web"}, {"status", "../x"}, {"fsck", "../x"}, {"destroy", "../x"},
		{"create", "../x", "--ostemplate", "demo-1-x86_64"},
	} {
		n.fails(t, "bad container id", args...)
	}
	if out, _ := exec_mounts(); strings.Contains(out, filepath.Join(n.vz, "x")) {
		t.Errorf("something was mounted over %s", filepath.Join(n.vz, "x"))
	}
}

func exec_mounts() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	return string(b), err
}

// Finding 6: a host user cannot reach a template file (a setuid program
// of a package would run as root), nor a private area; a container
// still reads them through its mount.
func TestAreasClosedToHostUsers(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64")
	// Let other users reach the node's directory, as /vz would be.
	for _, d := range []string{filepath.Dir(n.vz), n.vz} {
		must(t, os.Chmod(d, 0o755))
	}
	file := filepath.Join(n.area(), "demo/1/x86_64/base-files_1.0_amd64/etc/os-release")
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	if out, err := asNobody(t, "cat", file); err == nil {
		t.Errorf("uid 65534 read a template file: %q", out)
	}
	if out, err := asNobody(t, "ls", filepath.Join(n.priv("101"), "root")); err == nil {
		t.Errorf("uid 65534 listed a private area: %q", out)
	}
	// An area left open by an older version is closed by the next command.
	must(t, os.Chmod(n.area(), 0o755))
	n.ok(t, "template", "list")
	if st, err := os.Stat(n.area()); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("area mode after template list: %v %v", st.Mode(), err)
	}
	must(t, os.Chmod(n.priv("101"), 0o755))
	n.ok(t, "status", "101")
	if st, err := os.Stat(n.priv("101")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("private area mode after status: %v %v", st.Mode(), err)
	}
	// The container still sees its files.
	n.ok(t, "mount", "101")
	defer n.ok(t, "umount", "101")
	if got := readFile(t, filepath.Join(n.root("101"), "etc/os-release")); got != "NAME=demo\n" {
		t.Errorf("through the mount: %q", got)
	}
	// Any user of the container reads a template file through the mount
	// (the daemon, root, opens the area for it).
	if out, err := asNobody(t, "cat", filepath.Join(n.root("101"), "etc/os-release")); err != nil || out != "NAME=demo\n" {
		t.Errorf("uid 65534 through the mount: %q %v", out, err)
	}
	if out := n.ok(t, "exec", "101", "--", "/bin/sh", "-c", "read x < /etc/os-release && echo $x"); !strings.Contains(out, "NAME=demo") {
		t.Errorf("inside: %q", out)
	}
}

func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }

// Finding 2 for dpkg: its database and the mounts of a package
// configuration are reached inside the container, never through a
// symlink the container planted to a host directory.
func TestDpkgThroughContainerSymlinks(t *testing.T) {
	n, r := dpkgNode(t)
	r.add(t, debPkg{name: "extra", version: "1.0", files: map[string]string{"usr/bin/extra": "extra\n"}})
	r.publish(t)
	writeTemplate(t, n.src, "deb12/1/x86_64/config/app/extra/default", files{"packages": "extra\n", "summary": "x\n"})
	n.ok(t, "template", "install", n.src)
	n.ok(t, "cache", "create", "deb12-1-x86_64")
	t.Run("no symlinks", func(t *testing.T) {
		// The same install on a container as made: registered and
		// configured through the mount, then removed again.
		n.ok(t, "create", "303", "--ostemplate", "deb12-1-x86_64")
		n.ok(t, "mount", "303")
		defer n.ok(t, "umount", "303")
		n.ok(t, "install", "303", "extra")
		// The configuration's /proc, /sys and /dev mounts (made on fds)
		// are gone, the container's own mount stays.
		if mi, _ := exec_mounts(); strings.Contains(mi, " "+n.root("303")+"/") {
			t.Errorf("mounts left below %s after install:\n%s", n.root("303"), mi)
		}
		if out := n.ok(t, "exec", "303", "--", "dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Package}\\n", "extra"); !strings.Contains(out, "ii extra") {
			t.Errorf("dpkg-query: %q", out)
		}
		n.ok(t, "remove", "303", "extra")
		if out, err := n.ezctl(t, "exec", "303", "--", "dpkg-query", "-W", "extra"); err == nil {
			t.Errorf("extra still known to dpkg after remove: %q", out)
		}
		if _, err := os.Lstat(filepath.Join(n.priv("303"), "root/var/lib/dpkg/info/extra.list")); !os.IsNotExist(err) {
			t.Errorf("extra.list left: %v", err)
		}
	})
	for _, tc := range []struct{ id, path string }{{"301", "var/lib/dpkg/info"}, {"302", "proc"}} {
		t.Run(tc.path, func(t *testing.T) {
			n.ok(t, "create", tc.id, "--ostemplate", "deb12-1-x86_64")
			host := hostDir(t, n, "host-"+tc.id)
			p := filepath.Join(n.priv(tc.id), "root", tc.path)
			must(t, os.RemoveAll(p))
			must(t, os.Symlink(host, p))
			created := watchCreates(t, host)
			// A mount on the host directory lasts while the package is
			// configured; the table is read until install is over.
			done, mounted := make(chan struct{}), make(chan bool, 1)
			go func() {
				seen := false
				for {
					select {
					case <-done:
						mounted <- seen
						return
					default:
					}
					if mi, _ := exec_mounts(); strings.Contains(mi, " "+host+" ") {
						seen = true
					}
				}
			}()
			out, err := n.ezctl(t, "install", tc.id, "extra")
			close(done)
			t.Logf("install: %v\n%s", err, out)
			if <-mounted {
				t.Errorf("install mounted on the host directory %s", host)
			}
			if names := created(); len(names) > 0 {
				t.Errorf("install wrote into the host directory: %v", names)
			}
			checkHostDir(t, host)
		})
	}
}
