package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAptInsideContainer runs apt-get update and install inside a
// Debian container from the sources create gave it: a signed flat
// repository of this host's apt, dpkg and gpgv (and a package "hello"
// the template does not install), reachable inside at its host path.
func TestAptInsideContainer(t *testing.T) {
	n := newNode(t)
	r := newAptRepo(t, filepath.Dir(n.vz))
	r.add(t, hostTools(t, "/bin/sh", "/usr/bin/dpkg", "/usr/bin/dpkg-deb", "/usr/bin/dpkg-query", "/usr/bin/dpkg-split", "/bin/rm", "/bin/tar",
		"/usr/bin/diff", "/sbin/ldconfig", "/sbin/start-stop-daemon", "/bin/mkdir", "/usr/bin/apt-get", "/usr/bin/gpgv",
		"/usr/lib/apt/methods/file", "/usr/lib/apt/methods/gpgv", "/usr/lib/apt/methods/store", "/usr/lib/apt/methods/copy",
		// apt-key verify, which apt runs to check signatures, and what it calls
		"/usr/bin/apt-key", "/usr/bin/apt-config", "/usr/bin/mktemp", "/usr/bin/cat", "/usr/bin/grep", "/usr/bin/cut", "/usr/bin/mv",
		"/usr/bin/touch", "/usr/bin/sed", "/usr/bin/chmod", "/usr/bin/readlink", "/usr/bin/find", "/usr/bin/cp", "/usr/bin/sort",
		"/usr/bin/wc", "/usr/bin/tr", "/usr/bin/id", "/usr/bin/head", "/usr/bin/dirname", "/usr/bin/basename", "/usr/bin/ls"))
	data := debPkg{name: "dpkg-data", version: "1.0", priority: "required", files: map[string]string{}}
	for _, f := range []string{"cputable", "tupletable", "ostable", "abitable"} {
		data.files["usr/share/dpkg/"+f] = readFile(t, "/usr/share/dpkg/"+f)
	}
	r.add(t, data)
	r.add(t, debPkg{name: "hello", version: "1.0", files: map[string]string{"usr/share/hello/greeting": "hello from apt\n"}})
	r.publish(t)
	writeTemplate(t, n.src, "deb12/1/x86_64/config/os/default", files{"packages": "base-tools\n", "package_manager": "dpkg\n",
		"repositories": fmt.Sprintf("deb [signed-by=%s] %s ./\n", r.keyring, r.dir), "summary": "test Debian with apt\n"})
	n.ok(t, "template", "install", n.src)
	n.ok(t, "create", "501", "--ostemplate", "deb12-1-x86_64")
	n.ok(t, "mount", "501")
	t.Cleanup(func() { n.ezctl(t, "umount", "501") })
	// The repository is a host directory: the container needs its own
	// copy at the same path (a real one is reached over the network).
	inside := filepath.Join(n.root("501"), r.dir)
	must(t, exec.Command("mkdir", "-p", filepath.Dir(inside)).Run())
	if out, err := exec.Command("cp", "-a", r.dir, inside).CombinedOutput(); err != nil {
		t.Fatalf("copy the repository in: %v %s", err, out)
	}
	out, err := n.ezctl(t, "exec", "501", "--", "/bin/sh", "-c", `set -e
		mkdir -p /var/lib/apt/lists/partial /var/cache/apt/archives/partial /var/log/apt /etc/apt/apt.conf.d /etc/apt/preferences.d /var/lib/dpkg/updates /tmp
		apt-get -q update
		apt-get -q -y install hello
		read -r g < /usr/share/hello/greeting; echo "got: $g"`)
	if err != nil || !strings.Contains(out, "got: hello from apt") {
		t.Fatalf("apt-get in the container: %v\n%s", err, out)
	}
	if st := n.ok(t, "exec", "501", "--", "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "hello"); !strings.HasPrefix(st, "ii") {
		t.Errorf("hello after apt-get install: %q", st)
	}
}
