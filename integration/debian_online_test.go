//go:build online

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDebianOnline builds the Debian 12 example template from the host's
// apt sources (the Debian mirror must be reachable): make test-debian.
func TestDebianOnline(t *testing.T) {
	n := newNode(t)
	n.ok(t, "template", "install", "../examples/debian-12-x86_64")
	start := time.Now()
	out := n.ok(t, "cache", "create", "debian-12-x86_64")
	took := time.Since(start)
	t.Log(out)
	cache := filepath.Join(n.area(), "cache", "debian-12-x86_64.tar.gz")
	st, err := os.Stat(cache)
	must(t, err)
	members := readCache(t, cache)
	links, files := 0, 0
	for name, m := range members {
		if strings.HasPrefix(name, "root/") && m.typ == '0' {
			files++
			if m.link != "" {
				links++
			}
		}
	}
	pkgs := strings.Count(strings.TrimSpace(members["templates/vzpackages"].data), "\n")
	t.Logf("REPORT Debian 12 cache: %d packages, %d files of which %d link entries, tarball %d KiB, created in %v",
		pkgs, files, links, st.Size()>>10, took.Round(time.Second))

	n.ok(t, "create", "401", "--ostemplate", "debian-12-x86_64")
	n.ok(t, "create", "402", "--ostemplate", "debian-12-x86_64")
	n.ok(t, "mount", "401")
	defer n.ok(t, "umount", "401")
	if out := n.ok(t, "exec", "401", "--", "/bin/sh", "-c", "echo ok"); strings.TrimSpace(out) != "ok" {
		t.Errorf("sh in the container: %q", out)
	}
	out = n.ok(t, "exec", "401", "--", "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package}\n")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "ii ") {
			t.Errorf("not installed and configured: %q", l)
		}
	}
	if len(lines) != pkgs {
		t.Errorf("dpkg knows %d packages, the cache %d", len(lines), pkgs)
	}
	if out := n.ok(t, "exec", "401", "--", "apt-get", "--version"); !strings.HasPrefix(out, "apt ") {
		t.Errorf("apt-get --version: %q", out)
	}
	// apt works inside from the container's own sources (the host's, as
	// the template says "host"), with its resolver and the host's network.
	if list := readFile(t, filepath.Join(n.priv("401"), "root/etc/apt/sources.list.d/ezfs.list")); !strings.Contains(list, "deb ") {
		t.Errorf("no apt sources in the container:\n%s", list)
	}
	aptOut, err := n.ezctl(t, "exec", "401", "--", "/bin/sh", "-c", "apt-get -q update && apt-get -q -y install --no-install-recommends hello && hello")
	if err != nil || !strings.Contains(aptOut, "Hello, world!") {
		t.Errorf("apt-get update and install in the container: %v\n%s", err, aptOut)
	}
	if out := n.ok(t, "exec", "401", "--", "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "hello"); !strings.HasPrefix(out, "ii") {
		t.Errorf("hello after apt-get install: %q", out)
	}
	n.ok(t, "mount", "402")
	defer n.ok(t, "umount", "402")
	n.ok(t, "install", "402", "nginx")
	if out := n.ok(t, "exec", "402", "--", "/usr/sbin/nginx", "-v"); !strings.Contains(out, "nginx/") {
		t.Errorf("nginx -v: %q", out)
	}
	out = n.ok(t, "exec", "402", "--", "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "nginx-light")
	if !strings.HasPrefix(out, "ii") {
		t.Errorf("nginx-light: %q", out)
	}
	for _, p := range []string{"usr/sbin/nginx", "usr/share/nginx/html/index.html"} {
		if !isLink(t, filepath.Join(n.priv("402"), "root", p)) {
			t.Errorf("%s is not linked", p)
		}
	}
	if _, err := os.Stat(filepath.Join(n.priv("401"), "root/usr/sbin/nginx")); err == nil {
		t.Error("401 got nginx too")
	}
	t.Log(n.ok(t, "list"))
	aptFromOwnSources(t, n.root("401"))
}

// aptFromOwnSources runs apt inside the container against the sources
// create gave it (the host's, as the template says "host"): update,
// install of a package with dependencies, remove, purge, install again,
// and dpkg clean afterwards.
func aptFromOwnSources(t *testing.T, root string) {
	c := chroot{name: "ezfs 401", root: root}
	start := time.Now()
	out, err := c.run(5*time.Minute, `apt-get update -qq
apt-get install -y -qq jq >/dev/null
jq --version
apt-get remove -y -qq jq >/dev/null
apt-get purge -y -qq jq >/dev/null
apt-get autoremove --purge -y -qq >/dev/null
apt-get install -y -qq jq >/dev/null
echo '{"a": 1}' | jq -c .
a=$(dpkg --audit); echo "audit: ${a:-clean}"
dpkg -V jq libjq1 libonig5; echo "verify: $?"
dpkg-query -W -f '${db:Status-Abbrev}\n' | sort | uniq -c | sed 's/^ */status /'`)
	t.Logf("TIMING apt against the container's own sources inside 401: %v", time.Since(start).Round(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"jq-1.", "{\"a\":1}\n", "audit: clean\n", "verify: 0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("apt inside the container: no %q in:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "status" && f[2] != "ii" {
			t.Errorf("packages not installed and configured: %q", l)
		}
	}
}
