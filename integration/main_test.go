// Package integration drives the built ezctl binary against real FUSE
// mounts. The test process never serves a mount itself, so it may exec
// and mmap on them.
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ezfs/ezfs/fs"
	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/internal/testenv"
	"golang.org/x/sys/unix"
)

var ezctl string // path of the binary under test

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ezfs-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Everything the tests make goes below dir, so that the check for
	// mounts left behind sees this run's only, not those of another
	// run on the same machine. Non-root tests need to pass through it.
	os.Chmod(dir, 0o755)
	os.Setenv("TMPDIR", dir)
	ezctl = filepath.Join(dir, "ezctl")
	build := exec.Command("go", "build", "-o", ezctl, "../ctl/ezctl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ezctl:", err)
		os.Exit(1)
	}
	// A mountd of our own, which ezctl starts on first use.
	socket := filepath.Join(dir, "run", "mountd.sock")
	os.Setenv("EZFS_MOUNTD_SOCKET", socket)
	code := m.Run()
	stopMountd(socket)
	if left := leftoverMounts(dir); len(left) > 0 {
		// Removing dir now would delete through the mounts.
		fmt.Fprintf(os.Stderr, "ezfs mounts left behind: %v\n", left)
		os.Exit(1)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// stopMountd ends the test's daemon (SIGTERM unmounts what is left) and
// waits until it is gone.
func stopMountd(socket string) {
	out, err := exec.Command(ezctl, "--socket", socket, "mountd", "status", "--json").Output()
	if err != nil {
		return
	}
	var st struct {
		Running bool `json:"running"`
		PID     int  `json:"pid"`
	}
	if json.Unmarshal(out, &st) != nil || !st.Running {
		return
	}
	unix.Kill(st.PID, unix.SIGTERM)
	for i := 0; i < 1000 && unix.Kill(st.PID, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

func leftoverMounts(dir string) []string {
	all, _ := mountinfo.All()
	var out []string
	for _, m := range all {
		if m.FSType == mountinfo.EzfsType && strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m.Point)
		}
	}
	return out
}

// files is a declarative tree: path -> contents.
type files map[string]string

// ct is a template area, a private tree and a mountpoint in one temp dir.
type ct struct {
	tmpl, priv, mnt, log string
	pid                  int // serving process
}

func newCT(t *testing.T, lower, upper files) *ct {
	t.Helper()
	testenv.RequireFUSE(t)
	dir, err := os.MkdirTemp("", "ezfs-it-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &ct{tmpl: filepath.Join(dir, "template"), priv: filepath.Join(dir, "private"),
		mnt: filepath.Join(dir, "root"), log: filepath.Join(dir, "mount.log")}
	for _, d := range []string{c.tmpl, c.priv, c.mnt} {
		must(t, os.MkdirAll(d, 0o755))
	}
	for p, data := range lower {
		writeFile(t, filepath.Join(c.tmpl, "pkg", p), data)
		makeLink(t, c.priv, p, "pkg/"+p)
	}
	for p, data := range upper {
		writeFile(t, filepath.Join(c.priv, p), data)
	}
	return c
}

var servingPID = regexp.MustCompile(`serving process (\d+)`)

// mount runs `ezctl mount` and registers the unmount, lazy when busy,
// so that a failing test leaves no mount behind.
func (c *ct) mount(t *testing.T, extra ...string) {
	t.Helper()
	args := append([]string{"mount", "--template", c.tmpl, "--private", c.priv, "--log", c.log}, extra...)
	out, err := exec.Command(ezctl, append(args, c.mnt)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ezctl mount: %v\n%s", err, out)
	}
	m := servingPID.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ezctl mount did not name its serving process: %s", out)
	}
	c.pid, _ = strconv.Atoi(string(m[1]))
	t.Cleanup(func() { testenv.Unmount(t, c.mnt) })
}

func (c *ct) umount(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(ezctl, "umount", c.mnt).CombinedOutput(); err != nil {
		t.Fatalf("ezctl umount: %v\n%s", err, out)
	}
}

// killServer kills a serving process with SIGKILL and waits until it has
// exited: until then its socket still accepts connections that the
// exit resets, so a following ezctl would fail at random.
func killServer(t *testing.T, pid int) {
	t.Helper()
	must(t, unix.Kill(pid, unix.SIGKILL))
	waitFor(t, fmt.Sprintf("process %d to exit", pid), 10*time.Second, func() bool { return exited(pid) })
}

// exited reports whether pid is gone or a zombie with no thread left: a
// zombie has closed its files, and whoever adopted it may reap it late.
// A killed process's main thread can be a zombie while another thread
// still finishes a system call (a copy-up's copy_file_range) and keeps
// the files, the daemon's socket among them, open.
func exited(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	if i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' {
		return false
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return err != nil || len(tasks) <= 1
}

func (c *ct) remount(t *testing.T) {
	c.umount(t)
	c.mount(t)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(data), 0o644))
}

func makeLink(t testing.TB, priv, path, value string) {
	t.Helper()
	full := filepath.Join(priv, path)
	writeFile(t, full, "")
	must(t, unix.Lsetxattr(full, fs.LinkAttr, []byte(value), 0))
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func isLink(t testing.TB, path string) bool {
	t.Helper()
	_, err := unix.Lgetxattr(path, fs.LinkAttr, nil)
	if err != nil && err != unix.ENODATA {
		t.Fatal(err)
	}
	return err == nil
}
