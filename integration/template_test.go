package integration

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/fs"
	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// node is a --vz directory with a tar repository and template sources.
type node struct {
	vz, repo, src string
}

func newNode(t *testing.T) *node { return newNodeIn(t, "") }

// newNodeIn is newNode with its files in parent ("": the temporary
// directory).
func newNodeIn(t *testing.T, parent string) *node {
	t.Helper()
	testenv.RequireFUSE(t)
	dir, err := os.MkdirTemp(parent, "ezfs-it-")
	must(t, err)
	t.Cleanup(func() {
		// Mounts below dir go first (LIFO cleanups run before this one
		// only if registered later), so unmount what is left.
		out, _ := exec.Command("awk", "-v", "d="+dir, `index($2, d) == 1 {print $2}`, "/proc/mounts").Output()
		for _, m := range strings.Fields(string(out)) {
			testenv.Unmount(t, m)
		}
		os.RemoveAll(dir)
	})
	return &node{vz: filepath.Join(dir, "vz"), repo: filepath.Join(dir, "repo"), src: filepath.Join(dir, "src")}
}

func (n *node) ezctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(ezctl, append([]string{"--vz", n.vz}, args...)...).CombinedOutput()
	return string(out), err
}

func (n *node) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, err := n.ezctl(t, args...)
	if err != nil {
		t.Fatalf("ezctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// fails runs ezctl, wants exit status 1 and an error line containing want.
func (n *node) fails(t *testing.T, want string, args ...string) string {
	t.Helper()
	out, err := n.ezctl(t, args...)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("ezctl %s: %v, want exit status 1\n%s", strings.Join(args, " "), err, out)
	}
	if !strings.Contains(out, want) {
		t.Errorf("ezctl %s: error %q does not say %q", strings.Join(args, " "), strings.TrimSpace(out), want)
	}
	return out
}

func (n *node) area() string { return filepath.Join(n.vz, "template") }

// snapshot records the template area (but pm/, which keeps verified
// downloads for reuse): every path with its type, mode, size and digest.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if info.IsDir() && info.Name() == "pm" || rel == "cache/.lock" {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		v := fmt.Sprintf("%v %d", info.Mode(), info.Size())
		if info.IsDir() {
			v = info.Mode().String() // its size counts entries, pm/ among them
		}
		if info.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			h := sha256.Sum256(b)
			v += " " + hex.EncodeToString(h[:8])
		}
		out[rel] = v
		return nil
	})
	return out
}

// demoRepo writes a repository: a base system, a library in two versions,
// a tool needing the newer one, a virtual package, and a web server.
func (n *node) demoRepo(t *testing.T) {
	t.Helper()
	for _, p := range []pkg{
		{name: "base-files", version: "1.0", files: files{"etc/os-release": "NAME=demo\n", "etc/hostname": "demo\n"},
			symlinks: map[string]string{"bin": "usr/bin"}},
		{name: "libfoo", version: "1.0", files: files{"usr/lib/libfoo.so": "foo v1\n"}},
		{name: "libfoo", version: "2.0", files: files{"usr/lib/libfoo.so": "foo v2\n"}},
		{name: "tool", version: "1:1.5-2", depends: "libfoo (>= 2.0), base-files", files: files{"usr/bin/tool": "#!/bin/sh\necho tool\n"}},
		{name: "nano", version: "7.2", provides: "editor", files: files{"usr/bin/nano": "nano\n"}},
		{name: "web", version: "1.0", depends: "libbar | libfoo, editor", files: files{"usr/sbin/web": "web server\n", "etc/web.conf": "port=80\n"}},
	} {
		writePackage(t, n.repo, p)
	}
	n.ok(t, "repo", "index", n.repo)
}

// demoTemplates writes an OS template, an OS set and an application
// template for the repository.
func (n *node) demoTemplates(t *testing.T) {
	t.Helper()
	base := "demo/1/x86_64/config/"
	writeTemplate(t, n.src, base+"os/default", files{
		"packages": "base-files\ntool\n", "package_manager": "tar\n", "repositories": n.repo + "\n",
		"summary": "Demo OS 1\n", "description": "A small OS for tests.\n", "distribution": "demo\n",
		"environment": "GREETING=\"hello from post-cache\"\n",
		"post-cache":  "#!/bin/sh\nset -e\nprintf '%s %s\\n' \"$GREETING\" \"$2\" > \"$1/etc/motd\"\n",
	})
	writeTemplate(t, n.src, base+"os/editor", files{"packages": "editor\n", "summary": "Demo OS with an editor\n"})
	writeTemplate(t, n.src, base+"app/web/default", files{"packages": "web\n", "summary": "A web server\n"})
}

func TestTemplatesAndCache(t *testing.T) {
	n := newNode(t)
	n.demoRepo(t)
	n.demoTemplates(t)
	out := n.ok(t, "template", "install", n.src)
	for _, want := range []string{"demo-1-x86_64 (base OS template)", "demo-1-x86_64-editor (OS template set)", "demo-1-x86_64:web (application template)"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	var list []map[string]any
	must(t, json.Unmarshal([]byte(n.ok(t, "template", "list", "--json")), &list))
	if len(list) != 3 {
		t.Fatalf("template list: %d templates, want 3", len(list))
	}
	var info map[string]any
	must(t, json.Unmarshal([]byte(n.ok(t, "template", "info", "web", "--json")), &info))
	if info["os_template"] != "demo-1-x86_64" || info["cached"] != false {
		t.Errorf("template info web: %v", info)
	}

	n.ok(t, "cache", "create", "demo-1-x86_64")
	cache := filepath.Join(n.area(), "cache", "demo-1-x86_64.tar.gz")
	members := readCache(t, cache)
	// Link entries point at the right package files; the newest libfoo
	// was chosen for tool; the epoch is written %3a.
	for path, want := range map[string]string{
		"root/usr/bin/tool":      "demo/1/x86_64/tool_1%3a1.5-2_amd64/usr/bin/tool",
		"root/usr/lib/libfoo.so": "demo/1/x86_64/libfoo_2.0_amd64/usr/lib/libfoo.so",
		"root/etc/os-release":    "demo/1/x86_64/base-files_1.0_amd64/etc/os-release",
	} {
		if got := members[path].link; got != want {
			t.Errorf("cache member %s links to %q, want %q", path, got, want)
		}
	}
	if m := members["root/bin"]; m.typ != tar.TypeSymlink || m.target != "usr/bin" {
		t.Errorf("root/bin: %+v", m)
	}
	if m := members["root/etc/motd"]; m.link != "" || m.data != "hello from post-cache cache-demo-1-x86_64\n" {
		t.Errorf("post-cache did not write etc/motd into the staging container: %+v", m)
	}
	if !strings.Contains(members["templates/vzpackages"].data, "tool 1:1.5-2 amd64 demo-1-x86_64") {
		t.Errorf("vzpackages: %q", members["templates/vzpackages"].data)
	}
	if _, err := os.Stat(filepath.Join(n.area(), "demo/1/x86_64/libfoo_1.0_amd64")); err == nil {
		t.Error("libfoo 1.0 was installed although nothing needs it")
	}
	manifest := readFile(t, filepath.Join(n.area(), "demo/1/x86_64/tool_1%3a1.5-2_amd64/.ezfs/manifest"))
	if !strings.Contains(manifest, `"usr/bin/tool"`) {
		t.Errorf("manifest: %s", manifest)
	}

	// A container made from the cache by hand, mounted.
	priv := filepath.Join(n.vz, "private", "101")
	must(t, os.MkdirAll(priv, 0o755))
	extractCache(t, cache, priv)
	c := &ct{tmpl: n.area(), priv: filepath.Join(priv, "root"), mnt: filepath.Join(n.vz, "root", "101"), log: filepath.Join(n.vz, "mount.log")}
	must(t, os.MkdirAll(c.mnt, 0o755))
	c.mount(t)
	if got := readFile(t, filepath.Join(c.mnt, "usr/bin/tool")); got != "#!/bin/sh\necho tool\n" {
		t.Errorf("tool through the mount: %q", got)
	}
	if got := readFile(t, filepath.Join(c.mnt, "bin/tool")); got != "#!/bin/sh\necho tool\n" {
		t.Errorf("bin/tool through the usr/bin symlink: %q", got)
	}
	c.umount(t)

	// The set adds the provider of the virtual package.
	n.ok(t, "cache", "create", "demo-1-x86_64-editor")
	if got := readCache(t, filepath.Join(n.area(), "cache", "demo-1-x86_64-editor.tar.gz"))["root/usr/bin/nano"].link; got != "demo/1/x86_64/nano_7.2_amd64/usr/bin/nano" {
		t.Errorf("set cache: nano links to %q", got)
	}
	n.fails(t, "cache update demo-1-x86_64", "cache", "create", "demo-1-x86_64")
	n.ok(t, "cache", "update", "demo-1-x86_64")
	if _, err := os.Stat(cache + "-old"); err != nil {
		t.Errorf("cache update kept no .tar.gz-old: %v", err)
	}
	n.ok(t, "cache", "remove", "demo-1-x86_64-editor")
	n.ok(t, "template", "remove", "demo-1-x86_64-editor")
	n.fails(t, "base of demo-1-x86_64:web", "template", "remove", "demo-1-x86_64")
}

type member struct {
	typ          byte
	link, target string // link attribute; symlink target
	data         string
}

func readCache(t *testing.T, path string) map[string]member {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(zr)
	out := map[string]member{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		data, _ := io.ReadAll(tr)
		out[strings.TrimSuffix(hdr.Name, "/")] = member{typ: hdr.Typeflag, link: hdr.PAXRecords["SCHILY.xattr."+fs.LinkAttr],
			target: hdr.Linkname, data: string(data)}
	}
}

// extractCache unpacks a cache by hand, the way a container is created:
// tar keeps the link attributes.
func extractCache(t *testing.T, cache, priv string) {
	t.Helper()
	out, err := exec.Command("tar", "-xzpf", cache, "--xattrs", "--xattrs-include=trusted.*", "-C", priv).CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	v, err := unix.Lgetxattr(filepath.Join(priv, "root/usr/bin/tool"), fs.LinkAttr, make([]byte, 256))
	if err != nil || v == 0 {
		t.Fatalf("tar dropped the link attribute: %v", err)
	}
}

func TestBrokenTemplatesRefused(t *testing.T) {
	n := newNode(t)
	n.demoRepo(t)
	n.demoTemplates(t)
	n.ok(t, "template", "install", n.src)
	before := snapshot(t, n.area())
	cases := []struct {
		name, dir string
		cfg       files
		want      string
	}{
		{"no packages", "other/1/x86_64/config/os/default", files{"package_manager": "tar\n", "repositories": "/r\n"}, "other/1/x86_64/config/os/default/packages: missing"},
		{"base without package_manager", "other/1/x86_64/config/os/default", files{"packages": "aa\n", "repositories": "/r\n"}, "package_manager: missing"},
		{"base without repositories", "other/1/x86_64/config/os/default", files{"packages": "aa\n", "package_manager": "tar\n"}, "repositories: missing"},
		{"unknown package manager", "other/1/x86_64/config/os/default", files{"packages": "aa\n", "package_manager": "rpm\n", "repositories": "/r\n"}, `unknown package manager "rpm"`},
		{"set with package_manager", "demo/1/x86_64/config/os/bad", files{"packages": "aa\n", "package_manager": "tar\n"}, "os/bad/package_manager: only a base OS template may have it"},
		{"app with distribution", "demo/1/x86_64/config/app/bad/default", files{"packages": "aa\n", "distribution": "x\n"}, "app/bad/default/distribution: only a base OS template may have it"},
		{"app without base", "nobase/1/x86_64/config/app/x/default", files{"packages": "aa\n"}, "needs its base OS template nobase-1-x86_64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(filepath.Dir(n.src), "bad-"+strings.ReplaceAll(tc.name, " ", "-"))
			// A good template beside the bad one: nothing of either lands.
			writeTemplate(t, src, "good/1/x86_64/config/os/default", files{"packages": "aa\n", "package_manager": "tar\n", "repositories": "/r\n"})
			writeTemplate(t, src, tc.dir, tc.cfg)
			n.fails(t, tc.want, "template", "install", src)
			if d := cmp.Diff(before, snapshot(t, n.area())); d != "" {
				t.Errorf("the area changed:\n%s", d)
			}
		})
	}
}

func TestCacheFailuresLeaveTheAreaAlone(t *testing.T) {
	n := newNode(t)
	n.demoRepo(t)
	n.demoTemplates(t)
	n.ok(t, "template", "install", n.src)
	n.ok(t, "cache", "create", "demo-1-x86_64")
	cache := filepath.Join(n.area(), "cache", "demo-1-x86_64.tar.gz")
	cacheBefore := readFile(t, cache)

	t.Run("failing post-cache", func(t *testing.T) {
		script := filepath.Join(n.area(), "demo/1/x86_64/config/os/default/post-cache")
		good := readFile(t, script)
		writeFile(t, script, "#!/bin/sh\necho 'cannot configure the network' >&2\nexit 3\n")
		must(t, os.Chmod(script, 0o755))
		defer func() { writeFile(t, script, good); os.Chmod(script, 0o755) }()
		// A new package that the failed run must not leave behind.
		writePackage(t, n.repo, pkg{name: "libfoo", version: "3.0", files: files{"usr/lib/libfoo.so": "foo v3\n"}})
		n.ok(t, "repo", "index", n.repo)
		defer func() { os.Remove(filepath.Join(n.repo, "libfoo_3.0_amd64.tar.gz")); n.ok(t, "repo", "index", n.repo) }()
		before := snapshot(t, n.area())
		out := n.fails(t, "script post-cache failed", "cache", "update", "demo-1-x86_64")
		if !strings.Contains(out, "cannot configure the network") {
			t.Errorf("the error does not carry the script's output:\n%s", out)
		}
		if d := cmp.Diff(before, snapshot(t, n.area())); d != "" {
			t.Errorf("the area changed:\n%s", d)
		}
		if readFile(t, cache) != cacheBefore {
			t.Error("the previous cache changed")
		}
	})

	for _, tc := range []struct {
		name string
		bad  pkg
		want string
	}{
		{"corrupt package", pkg{name: "libfoo", version: "4.0", files: files{"usr/lib/libfoo.so": "foo v4\n"}}, "checksum mismatch"},
		{"path traversal", pkg{name: "libfoo", version: "4.0", raw: func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "../../../../tmp/ezfs-escaped", Typeflag: tar.TypeReg, Mode: 0o644})
		}}, "climbs out"},
		{"symlink then write", pkg{name: "libfoo", version: "4.0", symlinks: map[string]string{"etc": "/tmp"}, raw: func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "etc/ezfs-escaped", Typeflag: tar.TypeReg, Mode: 0o644})
		}}, "unsafe archive"},
		{"absolute path", pkg{name: "libfoo", version: "4.0", raw: func(tw *tar.Writer) {
			tw.WriteHeader(&tar.Header{Name: "/tmp/ezfs-escaped", Typeflag: tar.TypeReg, Mode: 0o644})
		}}, "absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writePackage(t, n.repo, tc.bad)
			n.ok(t, "repo", "index", n.repo)
			defer func() { os.Remove(p); n.ok(t, "repo", "index", n.repo) }()
			if tc.name == "corrupt package" {
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				must(t, err)
				f.Write([]byte("tampered"))
				f.Close()
			}
			before := snapshot(t, n.area())
			n.fails(t, tc.want, "cache", "update", "demo-1-x86_64")
			if d := cmp.Diff(before, snapshot(t, n.area())); d != "" {
				t.Errorf("the area changed:\n%s", d)
			}
			if readFile(t, cache) != cacheBefore {
				t.Error("the previous cache changed")
			}
			if _, err := os.Lstat("/tmp/ezfs-escaped"); err == nil {
				os.Remove("/tmp/ezfs-escaped")
				t.Error("the archive wrote outside its package directory")
			}
		})
	}
}

// A full template area: template install and cache creation fail with
// ENOSPC, leave the area as it was, and work once there is room.
func TestFullTemplateArea(t *testing.T) {
	n := newNode(t)
	must(t, os.MkdirAll(n.area(), 0o755))
	if err := unix.Mount("tmpfs", n.area(), "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(n.area(), unix.MNT_DETACH) })
	must(t, os.Chmod(n.area(), 0o700)) // as ezctl makes an area (a tmpfs root is 1777)
	// A package bigger than the area.
	writePackage(t, n.repo, pkg{name: "base-files", version: "1.0", files: files{"etc/os-release": "NAME=demo\n", "usr/share/big": strings.Repeat("x", 512<<10)}})
	n.ok(t, "repo", "index", n.repo)
	writeTemplate(t, n.src, "demo/1/x86_64/config/os/default", files{
		"packages": "base-files\n", "package_manager": "tar\n", "repositories": n.repo + "\n",
		"README": strings.Repeat("documentation\n", 30<<10), // 420 KiB: too big as well
	})
	before := snapshot(t, n.area())
	n.fails(t, "no space left on device", "template", "install", n.src)
	if d := cmp.Diff(before, snapshot(t, n.area())); d != "" {
		t.Errorf("a failed install changed the area:\n%s", d)
	}
	os.Remove(filepath.Join(n.src, "demo/1/x86_64/config/os/default/README"))
	n.ok(t, "template", "install", n.src)
	before = snapshot(t, n.area())
	n.fails(t, "no space left on device", "cache", "create", "demo-1-x86_64")
	if d := cmp.Diff(before, snapshot(t, n.area())); d != "" {
		t.Errorf("a failed cache creation changed the area:\n%s", d)
	}
	must(t, unix.Mount("", n.area(), "", unix.MS_REMOUNT, "size=16m"))
	n.ok(t, "cache", "create", "demo-1-x86_64")
}

// A mirrorlist is fetched and its repositories used; an application
// template's repositories are added to its base's.
func TestMirrorlistAndMergedRepositories(t *testing.T) {
	n := newNode(t)
	n.demoRepo(t)
	extra := filepath.Join(filepath.Dir(n.repo), "extra-repo")
	writePackage(t, extra, pkg{name: "extra-tool", version: "3.0", depends: "libfoo", files: files{"usr/bin/extra": "extra\n"}})
	n.ok(t, "repo", "index", extra)
	list := filepath.Join(filepath.Dir(n.repo), "mirrors.list")
	writeFile(t, list, "# mirrors of the demo OS\n"+n.repo+"\n")
	base := "demo/1/x86_64/config/"
	writeTemplate(t, n.src, base+"os/default", files{
		"packages": "base-files\n", "package_manager": "tar\n", "mirrorlist": "file://" + list + "\n",
	})
	writeTemplate(t, n.src, base+"app/extra/default", files{"packages": "extra-tool\n", "repositories": extra + "\n"})
	n.ok(t, "template", "install", n.src)
	n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64") // the cache, from the mirrorlist's repository
	n.ok(t, "install", "101", "extra")                        // from the app's own repository, libfoo from the base's
	vp := readFile(t, filepath.Join(n.priv("101"), "templates/vzpackages"))
	for _, want := range []string{"base-files 1.0 amd64 demo-1-x86_64", "extra-tool 3.0 amd64 extra", "libfoo 2.0 amd64 extra"} {
		if !strings.Contains(vp, want) {
			t.Errorf("vzpackages lacks %q:\n%s", want, vp)
		}
	}
}
