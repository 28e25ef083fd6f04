package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountedCT is container 101 of a ctNode, created and mounted.
func mountedCT(t *testing.T) *node {
	n := ctNode(t)
	n.ok(t, "cache", "create", "demo-1-x86_64")
	n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64")
	n.ok(t, "mount", "101")
	t.Cleanup(func() { n.ezctl(t, "umount", "101") })
	return n
}

// mountsBelow lists the host's mounts at or below dir.
func mountsBelow(t *testing.T, dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	must(t, err)
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, l)
		}
	}
	return out
}

func TestExecNamespaces(t *testing.T) {
	n := mountedCT(t)
	before := mountsBelow(t, n.vz)
	host, _ := os.Hostname()
	out := n.ok(t, "exec", "101", "--", "/bin/sh", "-c", `
		echo "ppid $PPID"
		read -r init < /proc/1/cmdline; echo "init $init"
		read -r h < /proc/sys/kernel/hostname; echo "hostname $h"
		echo data > /dev/null && read -r z < /dev/null; echo "null $?"
		while read -r id parent dev root mp rest; do echo "mount $mp"; done < /proc/self/mountinfo
		echo "VEID $VEID"`)
	var mounts []string
	for _, l := range strings.Split(out, "\n") {
		if mp, ok := strings.CutPrefix(l, "mount "); ok {
			mounts = append(mounts, mp)
		}
	}
	sort.Strings(mounts)
	want := "/ /dev /dev/mqueue /dev/pts /dev/shm /proc /sys"
	if got := strings.Join(mounts, " "); got != want && got != strings.Replace(want, " /dev/mqueue", "", 1) {
		t.Errorf("mounts inside: %s, want %s", got, want)
	}
	for _, w := range []string{"ppid 1\n", "init ezfs-nsinit\n", "hostname 101\n", "null 1\n", "VEID 101\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("exec: no %q in\n%s", w, out)
		}
	}
	if host == "101" {
		t.Fatal("the host is called 101: the hostname check proves nothing")
	}
	if after := mountsBelow(t, n.vz); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the host's mounts changed:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	for _, code := range []int{0, 7} {
		if got := n.exitCode(t, "exec", "101", "--", "/bin/sh", "-c", "exit "+string(rune('0'+code))); got != code {
			t.Errorf("exit %d: ezctl's status %d", code, got)
		}
	}
	if got := n.exitCode(t, "exec", "101", "--", "/bin/sh", "-c", "kill -TERM $$"); got != 128+15 {
		t.Errorf("killed by SIGTERM: ezctl's status %d, want %d", got, 128+15)
	}
	out = n.ok(t, "exec", "--net", "none", "101", "--", "/bin/sh", "-c", `while read -r l; do echo "$l"; done < /proc/net/dev`)
	if !strings.Contains(out, "lo:") || strings.Count(out, ":") != 1 {
		t.Errorf("--net none: devices\n%s", out)
	}
	n.fails(t, "not found in the container's PATH", "exec", "101", "--", "nosuchcommand")
}

func TestSetHostnameAndNameserver(t *testing.T) {
	n := mountedCT(t)
	// A fresh container has its CTID as hostname and the host's resolvers.
	if got := readFile(t, filepath.Join(n.root("101"), "etc/hostname")); got != "101\n" {
		t.Errorf("etc/hostname after create: %q", got)
	}
	// The container's own files are hostile: a symlink out of it is
	// replaced, never followed.
	victim := filepath.Join(t.TempDir(), "victim")
	writeFile(t, victim, "host file\n")
	etc := filepath.Join(n.priv("101"), "root/etc")
	must(t, os.Remove(filepath.Join(etc, "hostname")))
	must(t, os.Symlink(victim, filepath.Join(etc, "hostname")))

	n.ok(t, "set", "101", "--hostname", "web1.example", "--nameserver", "192.0.2.53", "--nameserver", "2001:db8::53")
	if got := readFile(t, victim); got != "host file\n" {
		t.Errorf("set wrote through the container's symlink: %q", got)
	}
	if got := readFile(t, filepath.Join(etc, "hostname")); got != "web1.example\n" {
		t.Errorf("private etc/hostname: %q", got)
	}
	conf := readFile(t, filepath.Join(n.priv("101"), "ve.conf"))
	if !strings.Contains(conf, `HOSTNAME="web1.example"`) || !strings.Contains(conf, `NAMESERVER="192.0.2.53 2001:db8::53"`) {
		t.Errorf("ve.conf:\n%s", conf)
	}
	out := n.ok(t, "exec", "101", "--", "/bin/sh", "-c", `read -r h < /proc/sys/kernel/hostname; echo "hostname $h"
		while read -r l; do echo "$l"; done < /etc/resolv.conf`)
	for _, w := range []string{"hostname web1.example\n", "nameserver 192.0.2.53\n", "nameserver 2001:db8::53\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("inside after set: no %q in\n%s", w, out)
		}
	}
	n.fails(t, "bad hostname", "set", "101", "--hostname", "-bad-")
	n.fails(t, "bad nameserver", "set", "101", "--nameserver", "dns.example")
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (CI installs it)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func TestBundleRunsUnderRunc(t *testing.T) {
	runc := requireTool(t, "runc")
	n := mountedCT(t)
	dir := filepath.Join(t.TempDir(), "bundle")
	n.ok(t, "bundle", "101", dir, "--", "/bin/sh", "-c",
		`read -r h < /proc/sys/kernel/hostname; echo "hostname $h ppid $PPID pid $$"; echo from-runc > /etc/from-runc; exit 5`)
	var spec struct {
		Root struct{ Path string } `json:"root"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	must(t, err)
	must(t, json.Unmarshal(data, &spec))
	if spec.Root.Path != n.root("101") {
		t.Errorf("root.path %q, want VE_ROOT %s", spec.Root.Path, n.root("101"))
	}
	state := t.TempDir()
	id := fmt.Sprintf("ezfs-it-%d", os.Getpid())
	cmd := exec.Command(runc, "--root", state, "run", "-b", dir, id)
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() { exec.Command(runc, "--root", state, "delete", "-f", id).Run() })
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Fatalf("runc run: %v, want exit status 5\n%s", err, out)
	}
	if !strings.Contains(string(out), "hostname 101 ppid 0 pid 1") {
		t.Errorf("runc run: %s", out)
	}
	// Written inside, landed in the container's private area.
	if got := readFile(t, filepath.Join(n.priv("101"), "root/etc/from-runc")); got != "from-runc\n" {
		t.Errorf("private etc/from-runc: %q", got)
	}
}

func TestNspawnRunsACommand(t *testing.T) {
	nspawn := requireTool(t, "systemd-nspawn")
	n := mountedCT(t)
	out, err := exec.Command(nspawn, "-q", "--keep-unit", "--register=no", "-M", "ezfs-it", "-D", n.root("101"),
		"/bin/sh", "-c", `echo "pid $$"; echo from-nspawn > /etc/from-nspawn`).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-nspawn: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "pid ") {
		t.Errorf("systemd-nspawn: %s", out)
	}
	if got := readFile(t, filepath.Join(n.priv("101"), "root/etc/from-nspawn")); got != "from-nspawn\n" {
		t.Errorf("private etc/from-nspawn: %q", got)
	}
}

func TestEnterWithoutTerminal(t *testing.T) {
	n := mountedCT(t)
	cmd := exec.Command(ezctl, "--vz", n.vz, "enter", "101")
	cmd.Stdin = strings.NewReader("[ -t 0 ] || echo \"no tty in $VEID\"\nexit 3\n")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("enter: %v, want exit status 3\n%s", err, out)
	}
	if !strings.Contains(string(out), "no tty in 101") {
		t.Errorf("enter: %s", out)
	}
}

// openPTY opens a pty of the host for ezctl's terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	must(t, err)
	must(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	num, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	must(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", num), os.O_RDWR|unix.O_NOCTTY, 0)
	must(t, err)
	return m, s
}

func TestEnterWithTerminal(t *testing.T) {
	n := mountedCT(t)
	master, slave := openPTY(t)
	defer master.Close()
	cmd := exec.Command(ezctl, "--vz", n.vz, "enter", "101")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	must(t, cmd.Start())
	slave.Close()
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := master.Read(buf)
			out.Write(buf[:k])
			if err != nil {
				close(done)
				return
			}
		}
	}()
	// The shell reads its terminal in the container's own devpts.
	master.Write([]byte("[ -t 0 ] && [ -c /dev/pts/0 ] && echo \"tty-in-$((100+1))\"; exit 4\n"))
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 {
		t.Errorf("enter: %v, want exit status 4", err)
	}
	master.Close()
	<-done
	if !strings.Contains(out.String(), "tty-in-101") {
		t.Errorf("enter with a terminal:\n%s", out.String())
	}
}

// A signal to ezctl (Ctrl-C on its terminal) reaches the command, which
// runs in a session of its own.
func TestExecForwardsSignals(t *testing.T) {
	n := mountedCT(t)
	cmd := exec.Command(ezctl, "--vz", n.vz, "exec", "101", "--", "/bin/sh", "-c", `echo ready; read -r x; echo "read returned"`)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	buf := make([]byte, 64)
	k, err := stdout.Read(buf)
	if err != nil || !strings.Contains(string(buf[:k]), "ready") {
		t.Fatalf("no ready line: %q %v", buf[:k], err)
	}
	must(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { io.ReadAll(stdout); done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("SIGINT to ezctl did not end the command in 30s")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+2 {
		t.Errorf("after SIGINT: %v, want exit status %d", err, 128+2)
	}
}

func TestPodmanRootfs(t *testing.T) {
	podman := requireTool(t, "podman")
	n := mountedCT(t)
	// runc and cgroupfs: no systemd, crun refuses hybrid cgroups; the
	// host's network: no network plugins needed.
	// podman's default limits are above what a restricted root may
	// raise to (conmon starts lower): ask for modest ones.
	out, err := exec.Command(podman, "--runtime", requireTool(t, "runc"), "--cgroup-manager", "cgroupfs", "run", "--rm", "--network", "host",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--rootfs", n.root("101"), "/bin/sh", "-c", `echo "pid $$"; echo from-podman > /etc/from-podman`).CombinedOutput()
	if err != nil {
		t.Fatalf("podman run --rootfs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "pid 1") {
		t.Errorf("podman run: %s", out)
	}
	if got := readFile(t, filepath.Join(n.priv("101"), "root/etc/from-podman")); got != "from-podman\n" {
		t.Errorf("private etc/from-podman: %q", got)
	}
}
