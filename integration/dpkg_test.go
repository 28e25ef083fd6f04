package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/google/go-cmp/cmp"
)

// debPkg is a Debian package for a test repository.
type debPkg struct {
	name, version, priority, depends, provides string
	files                                      map[string]string // container path -> contents
	modes                                      map[string]os.FileMode
	postinst                                   string
}

// aptRepo is a flat apt repository signed with a key made for the test.
type aptRepo struct {
	dir, keyring string
	entity       *openpgp.Entity
	debs         []string
	stanzas      []string
}

func newAptRepo(t *testing.T, parent string) *aptRepo {
	t.Helper()
	e, err := openpgp.NewEntity("ezfs test archive", "", "archive@example.invalid", nil)
	must(t, err)
	r := &aptRepo{dir: filepath.Join(parent, "apt"), keyring: filepath.Join(parent, "archive.gpg"), entity: e}
	must(t, os.MkdirAll(r.dir, 0o755))
	var kb bytes.Buffer
	must(t, e.Serialize(&kb))
	must(t, os.WriteFile(r.keyring, kb.Bytes(), 0o644))
	return r
}

// add builds a .deb with dpkg-deb and indexes it.
func (r *aptRepo) add(t *testing.T, p debPkg) string {
	t.Helper()
	build := t.TempDir()
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: ezfs tests <t@example.invalid>\n", p.name, p.version)
	if p.priority != "" {
		control += "Priority: " + p.priority + "\n"
	}
	if p.depends != "" {
		control += "Depends: " + p.depends + "\n"
	}
	if p.provides != "" {
		control += "Provides: " + p.provides + "\n"
	}
	control += "Description: test package " + p.name + "\n"
	writeFile(t, filepath.Join(build, "DEBIAN/control"), control)
	if p.postinst != "" {
		writeFile(t, filepath.Join(build, "DEBIAN/postinst"), p.postinst)
		must(t, os.Chmod(filepath.Join(build, "DEBIAN/postinst"), 0o755))
	}
	for path, data := range p.files {
		writeFile(t, filepath.Join(build, path), data)
		if m, ok := p.modes[path]; ok {
			must(t, os.Chmod(filepath.Join(build, path), m))
		}
	}
	deb := filepath.Join(r.dir, fmt.Sprintf("%s_%s_amd64.deb", p.name, strings.ReplaceAll(p.version, ":", "%3a")))
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", build, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v %s", err, out)
	}
	data, err := os.ReadFile(deb)
	must(t, err)
	h := sha256.Sum256(data)
	r.stanzas = append(r.stanzas, control+fmt.Sprintf("Filename: %s\nSize: %d\nSHA256: %s\n", filepath.Base(deb), len(data), hex.EncodeToString(h[:])))
	r.debs = append(r.debs, deb)
	return deb
}

// publish writes Packages and a clearsigned InRelease.
func (r *aptRepo) publish(t *testing.T) {
	t.Helper()
	sort.Strings(r.stanzas)
	packages := strings.Join(r.stanzas, "\n")
	must(t, os.WriteFile(filepath.Join(r.dir, "Packages"), []byte(packages), 0o644))
	h := sha256.Sum256([]byte(packages))
	release := fmt.Sprintf("Origin: ezfs tests\nSuite: ./\nArchitectures: amd64\nSHA256:\n %s %d Packages\n", hex.EncodeToString(h[:]), len(packages))
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, r.entity.PrivateKey, nil)
	must(t, err)
	w.Write([]byte(release))
	must(t, w.Close())
	must(t, os.WriteFile(filepath.Join(r.dir, "InRelease"), out.Bytes(), 0o644))
}

// hostTools packs host programs with the libraries they load: enough of
// a system for dpkg --configure -a to run inside a test container.
func hostTools(t *testing.T, progs ...string) debPkg {
	t.Helper()
	p := debPkg{name: "base-tools", version: "1.0", priority: "required", files: map[string]string{}, modes: map[string]os.FileMode{}}
	add := func(src, dst string) {
		real, err := filepath.EvalSymlinks(src)
		must(t, err)
		data, err := os.ReadFile(real)
		must(t, err)
		p.files[dst] = string(data)
		p.modes[dst] = 0o755
	}
	for _, prog := range progs {
		add(prog, strings.TrimPrefix(filepath.Join("usr", strings.TrimPrefix(strings.TrimPrefix(prog, "/usr"), "/")), "/"))
		out, _ := exec.Command("ldd", prog).Output()
		for _, lib := range regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindAllString(string(out), -1) {
			add(lib, "usr"+strings.TrimPrefix(lib, "/usr"))
		}
	}
	return p
}

func dpkgNode(t *testing.T) (*node, *aptRepo) {
	n := newNode(t)
	r := newAptRepo(t, filepath.Dir(n.vz))
	r.add(t, hostTools(t, "/bin/sh", "/usr/bin/dpkg", "/usr/bin/dpkg-deb", "/usr/bin/dpkg-query", "/bin/rm", "/bin/tar", "/usr/bin/diff", "/sbin/ldconfig", "/sbin/start-stop-daemon"))
	r.add(t, debPkg{name: "liba", version: "1:1.0-1", files: map[string]string{"usr/lib/liba.so.1": "a, epoch 1\n"}})
	r.add(t, debPkg{name: "liba", version: "2.0-1", files: map[string]string{"usr/lib/liba.so.1": "a 2.0, older than 1:1.0\n"}})
	r.add(t, debPkg{name: "mawk", version: "1.3", provides: "awk", files: map[string]string{"usr/bin/mawk": "mawk\n"}})
	r.add(t, debPkg{name: "app", version: "1.0", depends: "gawk | awk, liba (>= 1:0.5)",
		files:    map[string]string{"usr/bin/app": "app\n", "etc/app.conf": "conf\n"},
		postinst: "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then echo configured > /etc/app.configured; fi\n"})
	r.add(t, debPkg{name: "broken", version: "1.0", depends: "nothere (>= 2)", files: map[string]string{"x": "x"}})
	r.publish(t)
	base := "deb12/1/x86_64/config/os/"
	writeTemplate(t, n.src, base+"default", files{"packages": "app\n", "package_manager": "dpkg\n",
		"repositories": fmt.Sprintf("deb [signed-by=%s] %s ./\n", r.keyring, r.dir), "summary": "test Debian\n"})
	writeTemplate(t, n.src, base+"broken", files{"packages": "broken\n"})
	n.ok(t, "template", "install", n.src)
	return n, r
}

func TestDpkgSignedRepository(t *testing.T) {
	n, r := dpkgNode(t)
	n.ok(t, "cache", "create", "deb12-1-x86_64")
	n.ok(t, "create", "301", "--ostemplate", "deb12-1-x86_64")
	n.ok(t, "mount", "301")
	defer n.ok(t, "umount", "301")
	root := n.root("301")
	// The epoch makes 1:1.0-1 the newest; the virtual awk came from mawk.
	if got := readFile(t, filepath.Join(root, "usr/lib/liba.so.1")); got != "a, epoch 1\n" {
		t.Errorf("liba: %q", got)
	}
	if !isLink(t, filepath.Join(n.priv("301"), "root/usr/lib/liba.so.1")) {
		t.Error("liba is not a link entry")
	}
	if _, err := os.Stat(filepath.Join(n.area(), "deb12/1/x86_64/liba_1%3a1.0-1_amd64")); err != nil {
		t.Errorf("the epoch's package directory: %v", err)
	}
	if got := readFile(t, filepath.Join(root, "usr/bin/mawk")); got != "mawk\n" {
		t.Errorf("mawk: %q", got)
	}
	// dpkg --configure -a ran the postinst inside the staging container.
	if got := readFile(t, filepath.Join(root, "etc/app.configured")); got != "configured\n" {
		t.Errorf("postinst: %q", got)
	}
	// The container got the template's repository as its own apt source,
	// with a copy of the keyring it names.
	list := readFile(t, filepath.Join(root, "etc/apt/sources.list.d/ezfs.list"))
	keys, _ := filepath.Glob(filepath.Join(n.priv("301"), "root/etc/apt/keyrings/ezfs-*"))
	if len(keys) != 1 || !strings.Contains(list, "deb [signed-by=/etc/apt/keyrings/"+filepath.Base(keys[0])+"] file:"+r.dir+" ./\n") {
		t.Errorf("apt sources in the container: %v\n%s", keys, list)
	} else if readFile(t, keys[0]) != readFile(t, r.keyring) {
		t.Error("the container's keyring differs from the template's")
	}
	out := n.ok(t, "exec", "301", "--", "dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Package}\\n")
	got := strings.Fields(out)
	sort.Strings(got)
	if d := cmp.Diff([]string{"ii", "ii", "ii", "ii", "app", "base-tools", "liba", "mawk"}, sortedStatus(got)); d != "" {
		t.Errorf("dpkg-query in the container:\n%s\n%s", out, d)
	}
}

// sortedStatus puts "ii" markers first, then names, for comparison.
func sortedStatus(fields []string) []string {
	var marks, names []string
	for _, f := range fields {
		if f == "ii" || len(f) == 3 && strings.HasPrefix(f, "i") {
			marks = append(marks, f)
		} else if strings.HasPrefix(f, "ii") {
			marks, names = append(marks, "ii"), append(names, strings.TrimPrefix(f, "ii"))
		} else {
			names = append(names, f)
		}
	}
	sort.Strings(names)
	return append(marks, names...)
}

func TestDpkgRefusesTampering(t *testing.T) {
	n, r := dpkgNode(t)
	before := snapshot(t, n.area())
	t.Run("unsatisfiable dependency", func(t *testing.T) {
		n.fails(t, "cannot satisfy nothere (>= 2), needed by broken 1.0", "cache", "create", "deb12-1-x86_64-broken")
	})
	t.Run("tampered deb", func(t *testing.T) {
		deb := r.debs[len(r.debs)-2] // app
		good, err := os.ReadFile(deb)
		must(t, err)
		defer os.WriteFile(deb, good, 0o644)
		bad := append([]byte(nil), good...)
		bad[len(bad)-10] ^= 0xff
		must(t, os.WriteFile(deb, bad, 0o644))
		n.fails(t, "checksum mismatch", "cache", "create", "deb12-1-x86_64")
	})
	t.Run("tampered Release", func(t *testing.T) {
		p := filepath.Join(r.dir, "InRelease")
		good, err := os.ReadFile(p)
		must(t, err)
		defer os.WriteFile(p, good, 0o644)
		must(t, os.WriteFile(p, bytes.Replace(good, []byte("Origin: ezfs tests"), []byte("Origin: ezfs evils"), 1), 0o644))
		n.fails(t, "bad signature", "cache", "create", "deb12-1-x86_64")
	})
	t.Run("unknown key", func(t *testing.T) {
		other, err := openpgp.NewEntity("someone else", "", "else@example.invalid", nil)
		must(t, err)
		good := *r.entity
		r.entity = other
		r.publish(t)
		defer func() { r.entity = &good; r.publish(t) }()
		n.fails(t, "bad signature", "cache", "create", "deb12-1-x86_64")
	})
	after := snapshot(t, n.area())
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("refused runs changed the area:\n%s", d)
	}
}
