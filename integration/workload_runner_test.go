//go:build workloads || online

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chroot runs programs inside a tree the way a container would see it:
// a private mount namespace and pid namespace, /dev bound from the host,
// a fresh /proc, then chroot. The suite has its own runner rather than
// `ezctl exec` so that the very same runner serves the ezfs mount and
// the plain-directory copy, and both runs differ only in the filesystem.
type chroot struct {
	name  string   // "ezfs" or "plain", for messages
	root  string   // the tree
	binds []string // host directories bound read-only at the same path inside
}

// The environment of every run: fixed, so that both runs see the same.
var chrootEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
	"DEBIAN_FRONTEND=noninteractive", "TZ=UTC", "PYTHONDONTWRITEBYTECODE=1",
}

// The host-side set-up, run by the host's sh inside the new namespaces.
// unshare makes the namespace's mounts private, so nothing leaks out.
const chrootSetup = `set -e
r=$1; shift
mount --rbind /dev "$r/dev"
mount -t proc proc "$r/proc"
while [ "$1" != -- ]; do
	mkdir -p "$r$1"; mount --bind "$1" "$r$1"; mount -o remount,bind,ro "$r$1"; shift
done
shift
exec chroot "$r" /usr/bin/env -i "$@"`

// run runs script with /bin/sh -e inside the tree, killed after timeout.
// It returns the combined output and the error, with the output in it.
func (c chroot) run(timeout time.Duration, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"--mount", "--pid", "--fork", "--kill-child=SIGKILL", "--", "/bin/sh", "-c", chrootSetup, "sh", c.root}
	args = append(args, c.binds...)
	args = append(args, "--")
	args = append(args, chrootEnv...)
	args = append(args, "/bin/sh", "-ec", script)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	// The whole group goes on timeout: unshare, and through
	// --kill-child the namespace's init and with it everything inside.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s: timed out after %v: %s", c.name, timeout, out)
	}
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", c.name, err, out)
	}
	return string(out), nil
}

// pair is the same container twice: on ezfs and as a plain directory.
type pair struct{ ezfs, plain chroot }

// both runs script in the ezfs container and then in the plain copy,
// and wants both to succeed with the same output. It logs how long each
// took.
func (p pair) both(t *testing.T, timeout time.Duration, script string) string {
	t.Helper()
	var outs [2]string
	for i, c := range []chroot{p.ezfs, p.plain} {
		start := time.Now()
		out, err := c.run(timeout, script)
		t.Logf("TIMING %s %s: %v", t.Name(), c.name, time.Since(start).Round(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = out
	}
	if outs[0] != outs[1] {
		t.Errorf("output on ezfs differs from the plain directory's:\n%s", lineDiff(outs[0], outs[1]))
	}
	return outs[0]
}

// same wants the two trees to have the same digest below rel, but for
// the entries excuse names as legitimately different; it reports those
// that did differ.
func (p pair) same(t *testing.T, rel string, excuse func(rel string) bool) {
	t.Helper()
	start := time.Now()
	a, errA := digestTree(filepath.Join(p.ezfs.root, rel))
	b, errB := digestTree(filepath.Join(p.plain.root, rel))
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING %s digest of %s (%d entries): %v", t.Name(), "/"+rel, len(a), time.Since(start).Round(10*time.Millisecond))
	d, excused := digestDiff(a, b, excuse)
	if len(excused) > 0 {
		t.Logf("REPORT %s: differ legitimately: %s", t.Name(), strings.Join(excused, " "))
	}
	if d != "" {
		t.Errorf("/%s on ezfs differs from the plain directory (ezfs first):\n%s", rel, d)
	}
}

// lineDiff shows the lines of a and b that the other lacks.
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	if len(out) == 0 {
		return "(the same lines in another order)"
	}
	return strings.Join(out, "\n")
}

// hostCmd runs a host program with a timeout, for the test's own set-up.
func hostCmd(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v (timeout %v)\n%s", name, strings.Join(args, " "), err, timeout, out)
	}
	return string(out)
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		must(t, os.MkdirAll(d, 0o755))
	}
}
