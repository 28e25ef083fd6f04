package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/fs"
	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// shellPackage packs this host's /bin/sh and the libraries it loads, so
// that template scripts can run inside test containers.
func shellPackage(t *testing.T) pkg {
	t.Helper()
	sh, err := filepath.EvalSymlinks("/bin/sh")
	must(t, err)
	out, err := exec.Command("ldd", sh).Output()
	must(t, err)
	p := pkg{name: "sh", version: "1.0", files: files{}}
	data, err := os.ReadFile(sh)
	must(t, err)
	p.files["usr/bin/sh"] = string(data)
	for _, m := range regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindAllString(string(out), -1) {
		real, err := filepath.EvalSymlinks(m)
		must(t, err)
		data, err := os.ReadFile(real)
		must(t, err)
		p.files["usr"+m] = string(data) // /lib/... -> usr/lib/..., through base-files' symlinks
	}
	return p
}

// ctNode is a node with an OS template and a web application template
// whose scripts run inside the container.
func ctNode(t *testing.T) *node { return ctNodeIn(t, "") }

func ctNodeIn(t *testing.T, parent string) *node {
	n := newNodeIn(t, parent)
	for _, p := range []pkg{
		shellPackage(t),
		{name: "base-files", version: "1.0", files: files{"etc/os-release": "NAME=demo\n", "etc/hostname": "demo\n"},
			symlinks: map[string]string{"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64"}},
		{name: "libfoo", version: "2.0", files: files{"usr/lib/libfoo.so": "foo v2\n"}},
		{name: "tool", version: "1.0", depends: "libfoo", files: files{"usr/bin/tool": "tool\n"}},
		{name: "web", version: "1.0", depends: "libfoo", files: files{"usr/sbin/web": "web v1\n", "etc/web.conf": "port=80\n", "usr/share/web/old.txt": "old\n"}},
	} {
		writePackage(t, n.repo, p)
	}
	n.ok(t, "repo", "index", n.repo)
	base := "demo/1/x86_64/config/"
	writeTemplate(t, n.src, base+"os/default", files{
		"packages": "sh\nbase-files\ntool\n", "package_manager": "tar\n", "repositories": n.repo + "\n", "summary": "Demo OS\n",
	})
	writeTemplate(t, n.src, base+"app/web/default", files{
		"packages": "web\n", "summary": "A web server\n", "environment": "WEB_PORT=80\n",
		"post-install": "#!/bin/sh\necho \"installed in $VEID port $WEB_PORT\" > /etc/web.installed\n",
		"pre-remove":   "#!/bin/sh\necho removing > /etc/web.removing\n",
	})
	n.ok(t, "template", "install", n.src)
	return n
}

type ctList []struct {
	ID           string   `json:"id"`
	OSTemplate   string   `json:"ostemplate"`
	Templates    []string `json:"templates"`
	Mounted      bool     `json:"mounted"`
	PrivateBytes int64    `json:"private_bytes"`
	SharedBytes  int64    `json:"shared_bytes"`
}

func (n *node) list(t *testing.T) map[string]ctList {
	var l ctList
	must(t, json.Unmarshal([]byte(n.ok(t, "list", "--json")), &l))
	out := map[string]ctList{}
	for _, c := range l {
		out[c.ID] = append(out[c.ID], c)
	}
	return out
}

func (n *node) root(id string) string { return filepath.Join(n.vz, "root", id) }
func (n *node) priv(id string) string { return filepath.Join(n.vz, "private", id) }

func (n *node) exitCode(t *testing.T, args ...string) int {
	_, err := n.ezctl(t, args...)
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	must(t, err)
	return 0
}

func TestContainerLifecycle(t *testing.T) { containerLifecycle(t, ctNode(t), false) }

// On btrfs a container is a snapshot of its template's seed: the same
// lifecycle, and the seed and the other containers never see a change.
func TestContainerLifecycleOnBtrfs(t *testing.T) {
	containerLifecycle(t, ctNodeIn(t, testenv.Btrfs(t)), true)
}

func containerLifecycle(t *testing.T, n *node, btrfs bool) {
	n.ok(t, "cache", "create", "demo-1-x86_64")
	for _, id := range []string{"101", "102", "103"} {
		n.ok(t, "create", id, "--ostemplate", "demo-1-x86_64")
	}
	if btrfs {
		checkSnapshots(t, n)
	}
	l := n.list(t)
	if len(l) != 3 || l["101"][0].OSTemplate != "demo-1-x86_64" || l["101"][0].Mounted || l["101"][0].SharedBytes == 0 {
		t.Fatalf("list after create: %+v", l)
	}
	// A container is directories and empty link entries: tiny.
	if p, s := l["101"][0].PrivateBytes, l["101"][0].SharedBytes; p > s/4+64<<10 {
		t.Errorf("container 101 takes %d bytes privately for %d shared", p, s)
	}
	n.fails(t, "used by container 101, 102, 103", "template", "remove", "demo-1-x86_64")
	n.fails(t, "exists", "create", "101", "--ostemplate", "demo-1-x86_64")
	n.fails(t, "template not installed", "create", "104", "--ostemplate", "nosuch-1-x86_64")
	n.fails(t, "template not installed", "install", "101", "nosuch")

	n.ok(t, "mount", "101")
	if got := readFile(t, filepath.Join(n.root("101"), "usr/bin/tool")); got != "tool\n" {
		t.Errorf("tool in 101: %q", got)
	}
	out := n.ok(t, "exec", "101", "--", "/bin/sh", "-c", "echo hello from $VEID")
	if !strings.Contains(out, "hello from 101") {
		t.Errorf("exec: %q", out)
	}
	if code := n.exitCode(t, "exec", "101", "--", "/bin/sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec exit status %d, want 7", code)
	}
	// Install into the mounted 101: the new files appear at once.
	if _, err := os.Stat(filepath.Join(n.root("101"), "usr/sbin/web")); err == nil {
		t.Fatal("web present before install")
	}
	n.ok(t, "install", "101", "web")
	if got := readFile(t, filepath.Join(n.root("101"), "usr/sbin/web")); got != "web v1\n" {
		t.Errorf("web in mounted 101 after install: %q", got)
	}
	if got := readFile(t, filepath.Join(n.root("101"), "etc/web.installed")); got != "installed in 101 port 80\n" {
		t.Errorf("post-install inside the container: %q", got)
	}
	if !isLink(t, filepath.Join(n.priv("101"), "root/usr/sbin/web")) {
		t.Error("web is not a link entry in 101")
	}
	if _, err := os.Stat(filepath.Join(n.priv("102"), "root/usr/sbin/web")); err == nil {
		t.Error("102 got web too")
	}
	if l := n.list(t); strings.Join(l["101"][0].Templates, " ") != "web" || !l["101"][0].Mounted || len(l["102"][0].Templates) != 0 {
		t.Errorf("list after install: %+v", l)
	}
	// The container changes one file; a process holds another open.
	f, err := os.OpenFile(filepath.Join(n.root("101"), "etc/web.conf"), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	f.WriteString("workers=4\n")
	f.Close()
	held, err := os.Open(filepath.Join(n.root("101"), "usr/sbin/web"))
	must(t, err)
	defer held.Close()

	// A new version is published.
	if code := n.exitCode(t, "status", "101"); code != 0 {
		t.Errorf("status before the new version: %d", code)
	}
	writePackage(t, n.repo, pkg{name: "web", version: "2.0", depends: "libfoo",
		files: files{"usr/sbin/web": "web v2\n", "etc/web.conf": "port=8080\n", "usr/share/web/new.txt": "new\n"}})
	n.ok(t, "repo", "index", n.repo)
	if code := n.exitCode(t, "status", "101"); code != 2 {
		t.Errorf("status with an update available: %d, want 2", code)
	}
	if code := n.exitCode(t, "status", "102"); code != 0 {
		t.Errorf("status of 102 (no web): %d, want 0", code)
	}
	out = n.ok(t, "update", "101")
	if !strings.Contains(out, "web 1.0 -> 2.0") || !strings.Contains(out, "kept etc/web.conf") {
		t.Errorf("update output:\n%s", out)
	}
	r := n.root("101")
	for path, want := range map[string]string{
		"usr/sbin/web":          "web v2\n",             // untouched: relinked
		"etc/web.conf":          "port=80\nworkers=4\n", // changed: kept
		"etc/web.conf.ezfs-new": "port=8080\n",          // the new version beside it
		"usr/share/web/new.txt": "new\n",                // new file linked
	} {
		if got := readFile(t, filepath.Join(r, path)); got != want {
			t.Errorf("after update %s reads %q, want %q", path, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(r, "usr/share/web/old.txt")); !os.IsNotExist(err) {
		t.Errorf("dropped file old.txt: %v", err)
	}
	buf := make([]byte, 16)
	k, _ := held.ReadAt(buf, 0)
	if string(buf[:k]) != "web v1\n" {
		t.Errorf("a file held open across the update reads %q", buf[:k])
	}
	if vp := readFile(t, filepath.Join(n.priv("101"), "templates/vzpackages")); !strings.Contains(vp, "web 2.0 amd64 web") {
		t.Errorf("vzpackages: %s", vp)
	}
	if code := n.exitCode(t, "status", "101"); code != 0 {
		t.Errorf("status after update: %d", code)
	}

	// Remove the application template: its files go, changed ones stay.
	out = n.ok(t, "remove", "101", "web")
	if !strings.Contains(out, "kept etc/web.conf") {
		t.Errorf("remove output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(r, "usr/sbin/web")); !os.IsNotExist(err) {
		t.Errorf("web after remove: %v", err)
	}
	if got := readFile(t, filepath.Join(r, "etc/web.removing")); got != "removing\n" {
		t.Errorf("pre-remove: %q", got)
	}
	if got := readFile(t, filepath.Join(r, "etc/web.conf")); got != "port=80\nworkers=4\n" {
		t.Errorf("changed file after remove: %q", got)
	}
	n.fails(t, "OS template cannot be removed", "remove", "101", "demo-1-x86_64")
	// The OS template's files stay (etc/hostname is the container's own
	// since create wrote it from HOSTNAME).
	if got := readFile(t, filepath.Join(r, "etc/os-release")); got != "NAME=demo\n" {
		t.Errorf("os-release: %q", got)
	}
	held.Close()

	n.fails(t, "is mounted", "destroy", "101")
	n.ok(t, "umount", "101")
	for _, id := range []string{"101", "102", "103"} {
		n.ok(t, "destroy", id)
	}
	if _, err := os.Stat(n.priv("101")); !os.IsNotExist(err) {
		t.Errorf("private area after destroy: %v", err)
	}
	n.ok(t, "template", "remove", "web")
	if _, err := os.Stat(filepath.Join(n.area(), "demo/1/x86_64/web_2.0_amd64")); !os.IsNotExist(err) {
		t.Errorf("web's package stays after its template went: %v", err)
	}
	if _, err := os.Stat(filepath.Join(n.area(), "demo/1/x86_64/tool_1.0_amd64")); err != nil {
		t.Errorf("the cache's packages must stay: %v", err)
	}
	n.ok(t, "template", "remove", "demo-1-x86_64")
	if _, err := os.Stat(filepath.Join(n.area(), "demo")); !os.IsNotExist(err) {
		t.Errorf("the OS's packages after its last template went: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(n.vz, "private", ".*")); len(left) > 0 {
		t.Errorf("left in the private areas' directory: %v", left)
	}
}

// checkSnapshots: containers 101-103 are snapshots of one read-only
// seed; a change in one reaches neither the seed nor the others; a new
// cache gets a new seed and the old one goes.
func checkSnapshots(t *testing.T, n *node) {
	t.Helper()
	seeds, _ := filepath.Glob(filepath.Join(n.vz, "private", ".seed-demo-1-x86_64@*"))
	if len(seeds) != 1 {
		t.Fatalf("seeds after three creates: %v", seeds)
	}
	for _, p := range append(seeds, n.priv("101"), n.priv("102")) {
		var st unix.Stat_t
		must(t, unix.Stat(p, &st))
		if st.Ino != 256 {
			t.Errorf("%s is not a btrfs subvolume (inode %d)", p, st.Ino)
		}
	}
	if err := os.WriteFile(filepath.Join(seeds[0], "root/etc/x"), nil, 0o644); err == nil {
		t.Error("the seed is writable")
	}
	n.ok(t, "mount", "102")
	writeFile(t, filepath.Join(n.root("102"), "etc/os-release"), "NAME=changed\n")
	n.ok(t, "umount", "102")
	for _, p := range []string{filepath.Join(seeds[0], "root/etc/os-release"), filepath.Join(n.priv("103"), "root/etc/os-release")} {
		if !isLink(t, p) {
			t.Errorf("%s changed with 102", p)
		}
	}
	n.ok(t, "cache", "update", "demo-1-x86_64")
	if left, _ := filepath.Glob(filepath.Join(n.vz, "private", ".seed-*")); len(left) != 0 {
		t.Errorf("seeds of the old cache after cache update: %v", left)
	}
	n.ok(t, "create", "104", "--ostemplate", "demo-1-x86_64")
	if got := readFile(t, filepath.Join(n.priv("104"), "root/etc/os-release")); got != "" || !isLink(t, filepath.Join(n.priv("104"), "root/etc/os-release")) {
		t.Errorf("104's hostname is not a link entry")
	}
	n.ok(t, "destroy", "104")
	if left, _ := filepath.Glob(filepath.Join(n.vz, "private", ".destroy-*")); len(left) != 0 {
		t.Errorf("destroy left %v", left)
	}
}

// A create killed while it builds the seed or after it took its
// snapshot leaves no container and no seed; the next create and fsck
// clear what it left.
func TestCreateKilledOnBtrfs(t *testing.T) {
	n := ctNodeIn(t, testenv.Btrfs(t))
	n.ok(t, "cache", "create", "demo-1-x86_64")
	killedAt := func(fp, id string) {
		t.Helper()
		cmd := exec.Command(ezctl, "--vz", n.vz, "create", id, "--ostemplate", "demo-1-x86_64")
		cmd.Env = append(os.Environ(), "EZFS_FAILPOINT="+fp)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
			t.Fatalf("create with failpoint %s: %v\n%s", fp, err, out)
		}
	}
	private := filepath.Join(n.vz, "private")
	killedAt("seed:1", "101")
	if l := n.list(t); len(l) != 0 {
		t.Errorf("list after a create killed building the seed: %+v", l)
	}
	if seeds, _ := filepath.Glob(filepath.Join(private, ".seed-*@????????????????")); len(seeds) != 0 {
		t.Errorf("a seed exists after its build was killed: %v", seeds)
	}
	n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64")
	if seeds, _ := filepath.Glob(filepath.Join(private, ".seed-*")); len(seeds) != 1 {
		t.Errorf("seeds after the next create: %v, want the one whole seed", seeds)
	}

	killedAt("create:1", "102")
	if l := n.list(t); len(l) != 1 || l["101"] == nil {
		t.Errorf("list after a create killed at its rename: %+v", l)
	}
	out := n.ok(t, "fsck", "102")
	if !strings.Contains(out, "interrupted create") {
		t.Errorf("fsck 102 after the killed create:\n%s", out)
	}
	if left, _ := filepath.Glob(filepath.Join(private, ".new-*")); len(left) != 0 {
		t.Errorf("after fsck: %v", left)
	}
	n.ok(t, "create", "102", "--ostemplate", "demo-1-x86_64")
	if got := readFile(t, filepath.Join(n.priv("102"), "ve.conf")); !strings.Contains(got, "demo-1-x86_64") {
		t.Errorf("102's ve.conf: %q", got)
	}
}

func TestContainerKilledMidInstall(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "102", "--ostemplate", "demo-1-x86_64")
	// Busy: another command holds the container's lock.
	lock, err := os.OpenFile(filepath.Join(n.priv("102"), ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	must(t, err)
	must(t, unix.Flock(int(lock.Fd()), unix.LOCK_EX))
	lock.WriteString("4242\n")
	n.fails(t, "being changed by another ezctl (pid 4242)", "install", "102", "web")
	lock.Close()

	before := readFile(t, filepath.Join(n.priv("102"), "templates/vzpackages"))
	cmd := exec.Command(ezctl, "--vz", n.vz, "install", "102", "web")
	cmd.Env = append(os.Environ(), "EZFS_FAILPOINT=ct-apply:3")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
		t.Fatalf("install with a failpoint: %v\n%s", err, out)
	}
	// The records show the state before; nothing half done is listed.
	if got := readFile(t, filepath.Join(n.priv("102"), "templates/vzpackages")); got != before {
		t.Errorf("vzpackages changed by the killed install:\n%s", got)
	}
	if l := n.list(t); len(l["102"][0].Templates) != 0 {
		t.Errorf("list shows a half install: %+v", l["102"])
	}
	if _, err := os.Stat(filepath.Join(n.priv("102"), "templates/.journal")); err != nil {
		t.Fatalf("no journal after the kill: %v", err)
	}
	// The re-run finishes it.
	n.ok(t, "install", "102", "web")
	if l := n.list(t); strings.Join(l["102"][0].Templates, " ") != "web" {
		t.Errorf("after the re-run: %+v", l["102"])
	}
	for _, p := range []string{"usr/sbin/web", "etc/web.conf", "usr/share/web/old.txt"} {
		v, err := unix.Lgetxattr(filepath.Join(n.priv("102"), "root", p), fs.LinkAttr, make([]byte, 256))
		if err != nil || v == 0 {
			t.Errorf("%s after the re-run: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(n.priv("102"), "templates/.journal")); !os.IsNotExist(err) {
		t.Errorf("journal left: %v", err)
	}
}

func TestFsckRepairsWhatCrashesLeave(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "104", "--ostemplate", "demo-1-x86_64")
	priv := n.priv("104")
	root := filepath.Join(priv, "root")
	// An install killed halfway.
	cmd := exec.Command(ezctl, "--vz", n.vz, "install", "104", "web")
	cmd.Env = append(os.Environ(), "EZFS_FAILPOINT=ct-apply:2")
	cmd.Run()
	// A copy-up killed halfway: the entry still links, with stray bytes.
	must(t, os.WriteFile(filepath.Join(root, "usr/bin/tool"), []byte("partial"), 0))
	// Links whose package is gone: one to an older version of a package
	// the container has, one to a package it does not.
	must(t, unix.Lsetxattr(filepath.Join(root, "etc/os-release"), fs.LinkAttr, []byte("demo/1/x86_64/base-files_0.9_amd64/etc/os-release"), 0))
	makeLink(t, root, "opt/gone", "demo/1/x86_64/gone_1.0_amd64/opt/gone")
	writeFile(t, filepath.Join(root, "tmp/.ezfs-post-install-4242"), "#!/bin/sh\n")
	must(t, os.MkdirAll(filepath.Join(filepath.Dir(priv), ".new-104-4242"), 0o700))

	before := snapshot(t, root)
	out, err := n.ezctl(t, "fsck", "104", "--dry-run")
	if err == nil {
		t.Fatalf("fsck --dry-run found nothing:\n%s", out)
	}
	for _, want := range []string{"interrupted", "stray bytes", "base-files_0.9_amd64/etc/os-release, which is gone",
		"gone_1.0_amd64", ".ezfs-post-install-4242", ".new-104-4242", "6 of 6 problems remain"} {
		if !strings.Contains(out, want) {
			t.Errorf("fsck --dry-run does not report %q:\n%s", want, out)
		}
	}
	if d := snapshotDiff(before, snapshot(t, root)); d != "" {
		t.Errorf("--dry-run changed the container:\n%s", d)
	}
	out = n.ok(t, "fsck", "104")
	t.Log(out)
	if got := n.ok(t, "fsck", "104"); !strings.Contains(got, "clean") {
		t.Errorf("second fsck:\n%s", got)
	}
	if got := readFile(t, filepath.Join(n.priv("104"), "templates/vzpackages")); !strings.Contains(got, "web 1.0 amd64 web") {
		t.Errorf("the interrupted install was not finished: %s", got)
	}
	if st, _ := os.Stat(filepath.Join(root, "usr/bin/tool")); st.Size() != 0 || !isLink(t, filepath.Join(root, "usr/bin/tool")) {
		t.Error("torn copy-up not truncated back to an intact link")
	}
	v := make([]byte, 256)
	k, _ := unix.Lgetxattr(filepath.Join(root, "etc/os-release"), fs.LinkAttr, v)
	if string(v[:k]) != "demo/1/x86_64/base-files_1.0_amd64/etc/os-release" {
		t.Errorf("dangling link relinked to %q", v[:k])
	}
	if _, err := os.Lstat(filepath.Join(root, "opt/gone")); !os.IsNotExist(err) {
		t.Errorf("link with no package left: %v", err)
	}
	n.ok(t, "mount", "104")
	defer n.ok(t, "umount", "104")
	if got := readFile(t, filepath.Join(n.root("104"), "etc/os-release")); got != "NAME=demo\n" {
		t.Errorf("hostname after fsck: %q", got)
	}
	n.fails(t, "is mounted", "fsck", "104")
}

func snapshotDiff(a, b map[string]string) string { return cmp.Diff(a, b) }

// After mountd is killed, list says which containers are not mounted
// any more, and mounting them again just works.
func TestListAfterMountdKill(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64")
	n.ok(t, "create", "102", "--ostemplate", "demo-1-x86_64")
	n.ok(t, "mount", "101")
	out, err := exec.Command(ezctl, "mountd", "status", "--json").Output()
	must(t, err)
	var st struct {
		PID int `json:"pid"`
	}
	must(t, json.Unmarshal(out, &st))
	killServer(t, st.PID)
	var l ctList
	must(t, json.Unmarshal([]byte(n.ok(t, "list", "--json")), &l))
	for _, c := range l {
		if c.Mounted {
			t.Errorf("list shows %s mounted while its daemon is dead", c.ID)
		}
	}
	n.ok(t, "mount", "101") // starts mountd, which recovers 101 first
	if got := readFile(t, filepath.Join(n.root("101"), "etc/os-release")); got != "NAME=demo\n" {
		t.Errorf("101 after recovery: %q", got)
	}
	must(t, json.Unmarshal([]byte(n.ok(t, "list", "--json")), &l))
	for _, c := range l {
		if c.Mounted != (c.ID == "101") {
			t.Errorf("list after recovery: %+v", c)
		}
	}
	n.ok(t, "umount", "101")
}
