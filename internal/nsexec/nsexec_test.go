package nsexec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/internal/testenv"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	MaybeInit() // Run re-executes this test binary as the container's init
	os.Exit(m.Run())
}

// shellRoot is a tree with this host's /bin/sh and the libraries it
// loads: enough of an OS for shell-builtin checks.
func shellRoot(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	root := t.TempDir()
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ldd", sh).Output()
	if err != nil {
		t.Fatal(err)
	}
	copyFile := func(src, dst string) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dst), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(sh, "bin/sh")
	for _, lib := range regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindAllString(string(out), -1) {
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			t.Fatal(err)
		}
		copyFile(real, lib)
	}
	return root
}

// run runs a shell script in root and returns its output and status.
func run(t *testing.T, spec Spec, script string) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	spec.Args = []string{"/bin/sh", "-c", script}
	spec.Stdout, spec.Stderr = w, w
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { out.ReadFrom(r); close(done) }()
	code, err := Run(spec)
	w.Close()
	<-done
	r.Close()
	if err != nil {
		t.Fatalf("run %q: %v\n%s", script, err, out.String())
	}
	return out.String(), code
}

// hostMounts lists the host's mounts that exec could leak: below dir, or
// of the kinds it mounts (other tests on the machine mount and unmount
// FUSE and tmpfs file systems meanwhile).
func hostMounts(t *testing.T, dir string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 9 {
			continue
		}
		fstype := f[len(f)-3]
		if strings.HasPrefix(f[4], dir) || fstype == "proc" || fstype == "sysfs" || fstype == "devpts" || fstype == "mqueue" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestNamespaces(t *testing.T) {
	root := shellRoot(t)
	before := hostMounts(t, root)
	host, _ := os.Hostname()
	spec := Spec{Root: root, Hostname: "ct-" + host, Env: []string{"PATH=/bin", "FOO=bar"}}
	out, code := run(t, spec, `
		echo "ppid $PPID"
		read -r init < /proc/1/cmdline; echo "init $init"
		read -r h < /proc/sys/kernel/hostname; echo "hostname $h"
		echo "env $FOO"
		echo data > /dev/null && echo "null ok"
		while read -r id parent maj root mp rest; do echo "mount $mp"; done < /proc/self/mountinfo
		[ -c /dev/urandom ] && [ -L /dev/ptmx ] && [ -L /dev/fd ] && echo "dev ok"
		if (echo x > /sys/x) 2>/dev/null; then echo "sys writable"; fi
		while read -r k v; do [ "$k" = CapBnd: ] && echo "bounding $v"; done < /proc/self/status
		exit 3`)
	if code != 3 {
		t.Errorf("exit status %d, want 3\n%s", code, out)
	}
	for _, want := range []string{"ppid 1\n", "init " + initArg0, "hostname ct-" + host + "\n", "env bar\n", "null ok\n", "dev ok\n",
		"mount /\nmount /proc\nmount /sys\nmount /dev\nmount /dev/pts\nmount /dev/shm\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("inside the container: no %q in\n%s", want, out)
		}
	}
	if !hasBounding(out, unix.CAP_CHOWN) || !hasBounding(out, unix.CAP_SYS_ADMIN) || hasBounding(out, unix.CAP_SYS_MODULE) || hasBounding(out, unix.CAP_NET_ADMIN) {
		t.Errorf("bounding set: want chown and sys_admin, not sys_module or net_admin (host network):\n%s", out)
	}
	if strings.Contains(out, "sys writable") {
		t.Error("/sys is writable")
	}
	if after := hostMounts(t, root); after != before {
		t.Errorf("the host's mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, ok, _ := mountinfo.Find(root); ok {
		t.Errorf("%s left mounted", root)
	}
}

func TestSignalledCommand(t *testing.T) {
	root := shellRoot(t)
	if _, code := run(t, Spec{Root: root}, `kill -TERM $$`); code != 128+15 {
		t.Errorf("exit status %d, want %d", code, 128+15)
	}
}

func TestNetNone(t *testing.T) {
	root := shellRoot(t)
	out, _ := run(t, Spec{Root: root, Net: NetNone}, `while read -r l; do echo "dev $l"; done < /proc/net/dev`)
	// Only the script's lines count: a binary built with -cover warns
	// on stderr too.
	var devs []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "dev" && strings.HasSuffix(f[1], ":") {
			devs = append(devs, f[1])
		}
	}
	if len(devs) != 1 || devs[0] != "lo:" {
		t.Errorf("--net none: devices %v in\n%s", devs, out)
	}
}

func TestSetupError(t *testing.T) {
	_, err := Run(Spec{Root: filepath.Join(t.TempDir(), "nosuch"), Args: []string{"/bin/sh"}})
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("Run in a missing root: %v", err)
	}
}

// hasBounding reads the "bounding HEX" line of the script's output.
func hasBounding(out string, c int) bool {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "bounding "); ok {
			n, err := strconv.ParseUint(v, 16, 64)
			return err == nil && n&(1<<c) != 0
		}
	}
	return false
}
