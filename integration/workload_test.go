//go:build workloads

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The workload suite (make test-workloads): real programs of a real
// Debian 12 container, run inside the container on ezfs and inside a
// plain-directory copy of the same container with the same runner; their
// outputs and the trees they leave must be the same. The Debian template
// comes from the host's apt sources like make test-debian; everything
// the programs do afterwards is offline.

// workbench is a Debian container on ezfs, its plain twin, and the
// signed repositories of the apt and application-template workloads.
type workbench struct {
	n        *node
	p        pair
	apt, app *wlRepo
}

// ez runs ezctl on the node like node.ok, but killed after timeout (a
// hung mirror or container must not hold CI), and returns the output and
// exit status.
func ez(t *testing.T, n *node, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	out, code := external("", timeout, ezctl, append([]string{"--vz", n.vz}, args...)...)
	if code == -1 {
		t.Fatalf("ezctl %s: timed out after %v:\n%s", strings.Join(args, " "), timeout, out)
	}
	return out, code
}

// ezOK is ez that wants exit status 0.
func ezOK(t *testing.T, n *node, timeout time.Duration, args ...string) string {
	t.Helper()
	out, code := ez(t, n, timeout, args...)
	if code != 0 {
		t.Fatalf("ezctl %s: exit status %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func timing(t *testing.T, what string, start time.Time) {
	t.Logf("TIMING %s: %v", what, time.Since(start).Round(10*time.Millisecond))
}

func newWorkbench(t *testing.T) *workbench {
	n := newNode(t)
	base := filepath.Dir(n.vz)
	w := &workbench{n: n, apt: newWlRepo(t, filepath.Join(base, "wl-apt")), app: newWlRepo(t, filepath.Join(base, "wl-app"))}
	start := time.Now()
	for _, p := range wlPackages("1.0") {
		w.apt.add(t, p)
	}
	w.apt.publish(t)
	for _, p := range appPackages("1.0") {
		w.app.add(t, p)
	}
	w.app.publish(t)
	timing(t, "build the signed repositories", start)

	// The example Debian template with the programs the workloads run,
	// and an application template from the signed repository.
	hostCmd(t, time.Minute, "cp", "-a", "../examples/debian-12-x86_64", n.src)
	osDir := filepath.Join(n.src, "debian/12/x86_64/config/os/default")
	pk, err := os.ReadFile(filepath.Join(osDir, "packages"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(osDir, "packages"), append(pk, "git\nsqlite3\npython3\n"...), 0o644))
	writeTemplate(t, n.src, "debian/12/x86_64/config/app/wlapp/default", files{
		"packages": "wl-app\n", "repositories": w.app.line() + "\n", "summary": "workload application\n"})
	ezOK(t, n, time.Minute, "template", "install", n.src)
	start = time.Now()
	ezOK(t, n, 4*time.Minute, "cache", "create", "debian-12-x86_64")
	timing(t, "cache create (Debian 12 with git, sqlite3, python3, from the host's apt sources)", start)

	start = time.Now()
	ezOK(t, n, time.Minute, "create", "601", "--ostemplate", "debian-12-x86_64")
	ezOK(t, n, time.Minute, "mount", "601")
	t.Cleanup(func() { ez(t, n, time.Minute, "umount", "601") })
	plain := filepath.Join(base, "plain")
	hostCmd(t, 3*time.Minute, "cp", "-a", n.root("601"), plain)
	timing(t, "create and mount container 601, copy it to a plain directory", start)
	w.p = pair{ezfs: chroot{name: "ezfs", root: n.root("601"), binds: []string{w.apt.dir}},
		plain: chroot{name: "plain", root: plain, binds: []string{w.apt.dir}}}
	return w
}

func TestWorkloads(t *testing.T) {
	total := time.Now()
	w := newWorkbench(t)
	p := w.p
	t.Run("start", func(t *testing.T) { p.same(t, "", nil) })
	t.Run("apt", func(t *testing.T) { aptWorkload(t, w) })
	for _, wl := range []struct {
		name, script, dir string
		excuse            func(string) bool
	}{
		{"git", gitScript, "wl/git", gitExcuse},
		{"sqlite", sqliteScript, "wl/sqlite", nil},
		{"python-files", pythonFilesScript, "wl/py", nil},
		{"tar-extract", tarExtractScript, "wl/tar", nil},
		{"rm-rf", rmScript, "wl", gitExcuse},
		{"cp-a", cpScript, "wl/cpa", nil},
		{"open-while-replaced", openReplacedScript, "wl/hold", nil},
	} {
		t.Run(wl.name, func(t *testing.T) {
			out := p.both(t, 3*time.Minute, wl.script)
			t.Logf("%s", out)
			p.same(t, wl.dir, wl.excuse)
		})
	}
	t.Run("cp-a copy equals source", func(t *testing.T) {
		for _, c := range []chroot{p.ezfs, p.plain} {
			src, err := digestTree(filepath.Join(c.root, "wl/cpa/src"))
			must(t, err)
			dst, err := digestTree(filepath.Join(c.root, "wl/cpa/dst"))
			must(t, err)
			if d, _ := digestDiff(src, dst, nil); d != "" {
				t.Errorf("%s: cp -a made a different tree (source first):\n%s", c.name, d)
			}
		}
	})
	t.Run("whole tree", func(t *testing.T) { p.same(t, "", wholeTreeExcuse) })
	t.Run("app templates", func(t *testing.T) { appTemplates(t, w) })
	timing(t, "TestWorkloads in all", total)
}

// wholeTreeExcuse names what legitimately differs between two runs of
// the same programs: the contents of files that record times or inode
// numbers.
func wholeTreeExcuse(rel string) bool {
	switch {
	case strings.HasPrefix(rel, "var/log/") && !strings.HasSuffix(rel, ".scripts"):
		return true // apt's and dpkg's logs have dates
	case strings.HasPrefix(rel, "var/cache/apt/") && strings.HasSuffix(rel, ".bin"):
		return true // apt's cache records its list files' mtimes
	case rel == "var/cache/ldconfig/aux-cache":
		return true // ldconfig keys it by inode number and ctime
	}
	return gitExcuse(rel)
}

// gitExcuse: git's index caches the stat data (times, inode numbers) of
// the work tree's files.
func gitExcuse(rel string) bool { return strings.HasSuffix(rel, ".git/index") }

func aptWorkload(t *testing.T, w *workbench) {
	p := w.p
	status := `dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' 'wl-*' | sort`
	steps := []struct{ name, script string }{
		// Offline: the test's repository only, not the sources create
		// gave the container (the host's mirror).
		{"update", fmt.Sprintf("rm -f /etc/apt/sources.list.d/ezfs.list\necho '%s' > /etc/apt/sources.list.d/wl.list\napt-get update -qq\napt-cache policy wl-meta | head -3", w.apt.line())},
		{"install", "apt-get install -y -qq wl-meta >/dev/null\n" + status + "\nwl-tool\ncat /var/lib/wl-lib.log /var/log/wl-tool.scripts\nid wltool\nls /var/lib/wl-tool | wc -l"},
		{"remove", "apt-get remove -y -qq wl-tool >/dev/null\n" + status + "\ntest -e /etc/wl-tool.conf\n! test -e /usr/bin/wl-tool"},
		{"purge", "apt-get purge -y -qq wl-tool >/dev/null\napt-get autoremove --purge -y -qq >/dev/null\n" + status + "\n! test -e /etc/wl-tool.conf\n! test -e /var/lib/wl-tool\n! id wltool 2>/dev/null\n! test -e /usr/share/wl-data"},
		{"install again", "apt-get install -y -qq wl-meta >/dev/null\n" + status + "\nid wltool"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) { t.Logf("%s", p.both(t, 2*time.Minute, s.script)) })
	}
	// Version 1.1 of the library and the tool, published as an archive
	// would: by rename over the index.
	for _, pkg := range wlPackages("1.1") {
		w.apt.add(t, pkg)
	}
	w.apt.publish(t)
	t.Run("upgrade", func(t *testing.T) {
		out := p.both(t, 2*time.Minute, "apt-get update -qq\necho 'verbose=yes' > /etc/wl-tool.conf\n"+
			"apt-get upgrade -y -qq -o Dpkg::Options::=--force-confold >/dev/null\n"+status+"\nwl-tool\ncat /etc/wl-tool.conf /var/lib/wl-lib.log /var/lib/wl-tool/state.50")
		if !strings.Contains(out, "ii  wl-tool 1.1") || !strings.Contains(out, "state 50 of 1.1") {
			t.Errorf("upgrade did not reach 1.1:\n%s", out)
		}
	})
	t.Run("audit and verify", func(t *testing.T) {
		out := p.both(t, 2*time.Minute, `a=$(dpkg --audit); echo "audit: ${a:-clean}"
dpkg -V wl-lib wl-data wl-meta; echo "verify wl: $?"
dpkg -V wl-tool; echo "verify wl-tool: $?"
dpkg -V > /tmp/verify-all || true; echo "verify all: $(wc -l < /tmp/verify-all)"; cat /tmp/verify-all
dpkg-query -W -f '${db:Status-Abbrev}\n' | sort | uniq -c | sed 's/^ */status /'
apt-get check -qq; echo "check: $?"`)
		want := []string{"audit: clean\n", "verify wl: 0\n", "??5?????? c /etc/wl-tool.conf\nverify wl-tool: 0\n", "check: 0\n",
			// Of every package of the system, only the conffile changed on purpose.
			"verify all: 1\n??5?????? c /etc/wl-tool.conf\n"}
		for _, s := range want {
			if !strings.Contains(out, s) {
				t.Errorf("wanted %q in:\n%s", s, out)
			}
		}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "status" && f[2] != "ii" {
				t.Errorf("packages not installed and configured: %q", l)
			}
		}
	})
	p.same(t, "var/lib/dpkg", nil)
	p.same(t, "etc", nil)
}

// The git workload: fixed dates make every object, and so the packs and
// the output, the same on both runs.
const gitScript = `export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
mkdir -p /wl/git && cd /wl/git
git init -q -b main .
git config gc.auto 0
git config pack.threads 1
for i in $(seq 1 50); do
	export GIT_AUTHOR_DATE="@$((1700000000 + i)) +0000" GIT_COMMITTER_DATE="@$((1700000000 + i)) +0000"
	echo "line $i" >> log.txt
	seq $i > "f$((i % 7)).txt"
	mkdir -p "d$((i % 3))" && echo $i > "d$((i % 3))/n$i"
	[ $((i % 9)) != 0 ] || git rm -q "d$((i % 3))/n$((i - 6))" 2>/dev/null || true
	git add -A && git commit -q -m "commit $i"
	[ $((i % 10)) != 0 ] || git branch "b$i"
done
git checkout -q -b feature b20
echo feature > feature.txt && git add feature.txt && git commit -q -m feature
git checkout -q main
git merge -q --no-edit feature
git tag -a -m v1 v1
git gc -q
git repack -q -a -d -f
git fsck --strict --no-progress --no-dangling
git rev-parse HEAD
git rev-list --all | wc -l
git branch --list | tr -d ' *'
git count-objects -v | grep -v size
git status --porcelain | wc -l
`

// The sqlite workload: 20,000 inserts in transactions of 1,000 in WAL
// mode while another connection reads, then updates, deletes, a vacuum
// and the integrity check.
const sqliteScript = `mkdir -p /wl/sqlite && cd /wl/sqlite
python3 - <<'EOF'
import sqlite3
w = sqlite3.connect("db", isolation_level=None)
print(w.execute("PRAGMA journal_mode=WAL").fetchone()[0])
w.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB)")
w.execute("CREATE INDEX tk ON t(k)")
r = sqlite3.connect("db", isolation_level=None)
seen = []
for b in range(20):
    w.execute("BEGIN")
    for i in range(1000):
        n = b * 1000 + i
        w.execute("INSERT INTO t VALUES (?, ?, ?)", (n, "key%07d" % (n * 7919 % 20000), bytes([n % 251]) * (n % 300)))
    w.execute("COMMIT")
    seen.append(r.execute("SELECT count(*) FROM t").fetchone()[0])
print("reader saw", seen[0], seen[9], seen[19])
w.execute("BEGIN")
w.execute("UPDATE t SET v = zeroblob(100) WHERE id % 3 = 0")
w.execute("DELETE FROM t WHERE id % 5 = 0")
w.execute("COMMIT")
print(w.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
print(w.execute("PRAGMA integrity_check").fetchone()[0])
w.execute("VACUUM")
print(w.execute("PRAGMA integrity_check").fetchone()[0])
print(w.execute("SELECT count(*), sum(length(v)), min(k), max(k) FROM t").fetchone())
r.close()
w.close()
EOF
sqlite3 db 'PRAGMA journal_mode=DELETE; PRAGMA integrity_check; SELECT count(*) FROM t;'
ls
`

// The python workload: thousands of small files written by the
// write-to-temporary, fsync, rename-over pattern (with the directory
// fsynced, then listed, as dpkg does), read back, renamed and removed.
const pythonFilesScript = `mkdir -p /wl/py
python3 - <<'EOF'
import os
top = "/wl/py"
def put(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
want = {}
for i in range(3000):
    d = "%s/d%02d" % (top, i % 30)
    os.makedirs(d, exist_ok=True)
    p = "%s/f%04d" % (d, i)
    put(p, "first %d\n" % i * (i % 7 + 1))
    want[p] = "first %d\n" % i * (i % 7 + 1)
for d in sorted({os.path.dirname(p) for p in want}):
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)
for i in range(0, 3000, 2):
    p = "%s/d%02d/f%04d" % (top, i % 30, i)
    put(p, "second %d\n" % i)
    want[p] = "second %d\n" % i
for i in range(0, 3000, 3):
    p = "%s/d%02d/f%04d" % (top, i % 30, i)
    q = "%s/d%02d/f%04d" % (top, (i + 1) % 30, i)
    os.rename(p, q + ".moved")
    want[q + ".moved"] = want.pop(p)
    dfd = os.open(os.path.dirname(q), os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
for i in range(0, 3000, 5):
    p = "%s/d%02d/f%04d" % (top, i % 30, i)
    if p in want:
        os.unlink(p)
        del want[p]
bad = 0
for p, data in want.items():
    with open(p) as f:
        if f.read() != data:
            bad += 1
listed = set()
for d in os.listdir(top):
    for name in os.listdir(os.path.join(top, d)):
        listed.add(os.path.join(top, d, name))
print("files", len(want), "bad contents", bad, "listing matches", listed == set(want))
if bad or listed != set(want):
    print("missing", sorted(set(want) - listed)[:5], "extra", sorted(listed - set(want))[:5])
    raise SystemExit(1)
EOF
`

// tar -x of a large tree (Python's standard library and the perl
// modules: thousands of files), checked against the archive with tar -d.
const tarExtractScript = `mkdir -p /wl/tar
tar -cf /wl/big.tar -C / usr/lib/python3.11 usr/share/perl usr/share/zoneinfo
tar -xf /wl/big.tar -C /wl/tar
tar -df /wl/big.tar -C /wl/tar
tar -tf /wl/big.tar | wc -l
find /wl/tar | wc -l
`

const rmScript = `rm -rf /wl/tar /wl/big.tar
! test -e /wl/tar
ls /wl
`

// cp -a of a tree with extended attributes, hard links, symlinks, a
// FIFO, a device node, a sparse file, set-id bits and other owners.
const cpScript = `mkdir -p /wl/cpa/src
python3 - <<'EOF'
import os
s = "/wl/cpa/src"
for i in range(10):
    os.makedirs("%s/d%d" % (s, i))
for i in range(200):
    d = "%s/d%d" % (s, i % 10)
    p = "%s/f%d" % (d, i)
    with open(p, "w") as f:
        f.write("data %d\n" % i * i)
    if i % 3 == 0:
        os.setxattr(p, "user.ezfs.test", b"value %d" % i)
        os.setxattr(p, "user.other", b"\x00\x01" * (i % 40))
    if i % 7 == 0:
        os.link(p, "%s/d%d/hard%d" % (s, (i + 1) % 10, i))
        os.link(p, "%s/hard%d" % (s, i))
    if i % 11 == 0:
        os.symlink("../d%d/f%d" % (i % 10, i), "%s/d%d/sym%d" % (s, (i + 2) % 10, i))
    if i % 13 == 0:
        os.chown(p, 1000 + i, 2000 + i)
    if i % 17 == 0:
        os.chmod(p, 0o4755 if i % 2 else 0o2711)
os.setxattr(s + "/d3", "user.dir", b"on a directory")
os.mkfifo(s + "/fifo")
os.mknod(s + "/null", 0o20666, os.makedev(1, 3))
with open(s + "/sparse", "w") as f:
    f.truncate(64 << 20)
    f.seek(32 << 20)
    f.write("middle")
EOF
cp -a /wl/cpa/src /wl/cpa/dst
du -s --apparent-size /wl/cpa/dst | cut -f1
`

// A program holding files open while they are replaced by rename, as
// dpkg does to running programs and editors do to open files: the old
// descriptor and mapping keep the old contents, a running program keeps
// running, and new opens see the new file.
const openReplacedScript = `mkdir -p /wl/hold && cd /wl/hold
cp /usr/bin/sleep prog
./prog 30 & pid=$!
python3 - "$pid" <<'EOF'
import mmap, os, sys
top = "/wl/hold"
for i in range(20):
    with open("%s/f%d" % (top, i), "w") as f:
        f.write("old %d\n" % i * 100)
readers = [open("%s/f%d" % (top, i)) for i in range(20)]
maps = [mmap.mmap(r.fileno(), 0, prot=mmap.PROT_READ) for r in readers]
writer = open(top + "/f0", "a")
for round in range(10):
    for i in range(20):
        tmp = "%s/.f%d.new" % (top, i)
        with open(tmp, "w") as f:
            f.write("new %d round %d\n" % (i, round))
        os.rename(tmp, "%s/f%d" % (top, i))
writer.write("appended to the replaced file\n")
writer.close()
bad = 0
def check(what, got, want):
    global bad
    if got != want:
        bad += 1
        print("%s: got %r, want %r" % (what, got[:60] if isinstance(got, (str, bytes)) else got, want[:60] if isinstance(want, (str, bytes)) else want))
for i, r in enumerate(readers):
    r.seek(0)
    old = "old %d\n" % i * 100
    if i == 0:
        old += "appended to the replaced file\n"  # the writer's, to the same old file
    check("f%d through the old descriptor" % i, r.read(), old)
    check("f%d through the old mapping" % i, maps[i][:], ("old %d\n" % i * 100).encode())
    check("f%d old descriptor's link count" % i, os.fstat(r.fileno()).st_nlink, 0)
    with open("%s/f%d" % (top, i)) as f:
        check("f%d opened anew" % i, f.read(), "new %d round 9\n" % i)
print("bad", bad)
# Replace the running program.
with open(top + "/prog.new", "wb") as f, open("/usr/bin/true", "rb") as t:
    f.write(t.read())
os.chmod(top + "/prog.new", 0o755)
os.rename(top + "/prog.new", top + "/prog")
exe = os.readlink("/proc/%s/exe" % sys.argv[1])
print("running program's file:", exe.replace(sys.argv[1], "PID"))
os.kill(int(sys.argv[1]), 9)
sys.exit(1 if bad else 0)
EOF
wait $pid || true
./prog && echo "new program runs"
ls
`

// The application templates of the signed repository: wl-app with a
// library, a conffile and a postinst; 2.0 of both is the update.
func appPackages(version string) []wlDeb {
	return []wlDeb{
		{name: "wl-applib", version: version, files: map[string]string{"usr/lib/wl-app/lib.txt": "applib " + version + "\n"}},
		{name: "wl-app", version: version, depends: "wl-applib (>= " + version + ")",
			files:     map[string]string{"usr/bin/wl-app": "#!/bin/sh\necho wl-app " + version + "\n", "etc/wl-app.conf": "port=80\n" + "# " + version + "\n"},
			conffiles: []string{"etc/wl-app.conf"},
			scripts: map[string]string{"postinst": "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then echo \"configured $2\" >> /var/lib/wl-app.log; fi\n",
				"postrm": "#!/bin/sh\nset -e\n[ \"$1\" != purge ] || rm -f /var/lib/wl-app.log\n"}},
	}
}

// appTemplates drives ezctl install, update and remove of an application
// template on a running Debian container, and checks dpkg's view inside.
func appTemplates(t *testing.T, w *workbench) {
	n := w.n
	start := time.Now()
	ezOK(t, n, time.Minute, "create", "602", "--ostemplate", "debian-12-x86_64")
	ezOK(t, n, time.Minute, "mount", "602")
	t.Cleanup(func() { ez(t, n, time.Minute, "umount", "602") })
	c := chroot{name: "ezfs 602", root: n.root("602")}
	in := func(script string) string {
		t.Helper()
		out, err := c.run(2*time.Minute, script)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// allII wants every package installed and configured, and dpkg -V to
	// name nothing but the conffiles in changed.
	allII := func(when string, changed ...string) {
		t.Helper()
		out := in(`dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | grep -v '^ii ' || true
dpkg --audit | sed 's/^/audit: /'
dpkg -V || true`)
		want := ""
		for _, f := range changed {
			want += "??5?????? c " + f + "\n"
		}
		if out != want {
			t.Errorf("%s: dpkg inside the container:\n%s\nwant:\n%s", when, out, want)
		}
	}
	timing(t, "create and mount container 602", start)
	allII("before install")

	start = time.Now()
	ezOK(t, n, 2*time.Minute, "install", "602", "wlapp")
	timing(t, "ezctl install wlapp", start)
	allII("after install")
	if out := in("wl-app; cat /var/lib/wl-app.log; dpkg-query -W wl-app wl-applib"); out != "wl-app 1.0\nconfigured \nwl-app\t1.0\nwl-applib\t1.0\n" {
		t.Errorf("after install: %q", out)
	}
	in("echo port=8080 > /etc/wl-app.conf")

	for _, p := range appPackages("2.0") {
		w.app.add(t, p)
	}
	w.app.publish(t)
	if _, code := ez(t, n, 2*time.Minute, "status", "602"); code != 2 {
		t.Errorf("ezctl status with an update available: exit %d, want 2", code)
	}
	start = time.Now()
	t.Log(ezOK(t, n, 2*time.Minute, "update", "602"))
	timing(t, "ezctl update", start)
	allII("after update", "/etc/wl-app.conf")
	if out := in("wl-app; cat /etc/wl-app.conf /etc/wl-app.conf.ezfs-new; dpkg-query -W wl-app wl-applib"); out != "wl-app 2.0\nport=8080\nport=80\n# 2.0\nwl-app\t2.0\nwl-applib\t2.0\n" {
		t.Errorf("after update: %q", out)
	}
	if _, code := ez(t, n, 2*time.Minute, "status", "602"); code != 0 {
		t.Errorf("ezctl status after update: exit %d, want 0", code)
	}

	start = time.Now()
	t.Log(ezOK(t, n, 2*time.Minute, "remove", "602", "wlapp"))
	timing(t, "ezctl remove wlapp", start)
	allII("after remove")
	if out := in("dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' 'wl-*' 2>&1 || true; ! test -e /usr/bin/wl-app"); strings.Contains(out, "ii ") {
		t.Errorf("after remove, dpkg still has: %q", out)
	}
}
