package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// target is one way of showing the dataset to a container: instance i is
// the i-th container's view, laid out like the template's pkg directory.
type target interface {
	Name() string
	Open(i int) (root string, err error)
	// Fresh rebuilds instance i as it was before any workload changed it.
	Fresh(i int) (root string, err error)
	// Upper is instance i's writable layer ("" for native).
	Upper(i int) string
	ServerPID(i int) int // the serving process of instance i, 0 if none
	Close()
}

type nativeTarget struct{ d *dataset }

func (t *nativeTarget) Name() string             { return "native" }
func (t *nativeTarget) Open(int) (string, error) { return filepath.Join(t.d.template, pkgDir), nil }
func (t *nativeTarget) ServerPID(int) int        { return 0 }
func (t *nativeTarget) Close()                   {}

// ezfsTarget mounts containers made of link entries with `ezctl mount`.
type ezfsTarget struct {
	d           *dataset
	ezctl       string
	passthrough bool
	mounts      map[int]string
	pids        map[int]int
}

func (t *ezfsTarget) Name() string {
	if t.passthrough {
		return "ezfs"
	}
	return "ezfs-nopassthrough"
}

var servingPID = regexp.MustCompile(`serving process (\d+)`)

func (t *ezfsTarget) Open(i int) (string, error) {
	if m, ok := t.mounts[i]; ok {
		return m, nil
	}
	base := filepath.Join(t.d.dir, fmt.Sprintf("%s-%d", t.Name(), i))
	priv, mnt := filepath.Join(base, "private"), filepath.Join(base, "root")
	unix.Unmount(mnt, unix.MNT_DETACH) // debris of an interrupted run
	if err := t.d.makePrivate(priv); err != nil {
		return "", err
	}
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return "", err
	}
	args := []string{"mount", "--template", t.d.template, "--private", priv, "--log", base + ".log"}
	if !t.passthrough {
		args = append(args, "--no-passthrough")
	}
	out, err := t.command(append(args, mnt)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ezctl mount: %v: %s", err, out)
	}
	if t.mounts == nil {
		t.mounts, t.pids = map[int]string{}, map[int]int{}
	}
	if m := servingPID.FindSubmatch(out); m != nil {
		t.pids[i], _ = strconv.Atoi(string(m[1]))
	}
	t.mounts[i] = mnt
	return mnt, nil
}

func (t *ezfsTarget) ServerPID(i int) int { return t.pids[i] }

func (t *ezfsTarget) Fresh(i int) (string, error) {
	if m, ok := t.mounts[i]; ok {
		if err := t.command("umount", m).Run(); err != nil {
			unix.Unmount(m, unix.MNT_DETACH)
		}
		delete(t.mounts, i)
	}
	return t.Open(i)
}

// command runs ezctl against the benchmark's own mountd, so that the
// node's daemon (if any) is neither used nor measured.
func (t *ezfsTarget) command(args ...string) *exec.Cmd {
	cmd := exec.Command(t.ezctl, args...)
	cmd.Env = append(os.Environ(), "EZFS_MOUNTD_SOCKET="+filepath.Join(t.d.dir, "run", "mountd.sock"))
	return cmd
}

func (t *ezfsTarget) Close() {
	for _, m := range t.mounts {
		if err := t.command("umount", m).Run(); err != nil {
			unix.Unmount(m, unix.MNT_DETACH)
		}
	}
	t.mounts = nil
	// Both ezfs targets share the benchmark's mountd: the last one to
	// close stops it. Stopping it under the other's mounts made that
	// one's umount start a new daemon, which outlived the run.
	out, err := t.command("mountd", "status", "--json").Output()
	if err != nil {
		return
	}
	var st struct {
		Running bool              `json:"running"`
		PID     int               `json:"pid"`
		Mounts  []json.RawMessage `json:"mounts"`
	}
	if json.Unmarshal(out, &st) == nil && st.Running && len(st.Mounts) == 0 && st.PID > 0 {
		unix.Kill(st.PID, unix.SIGTERM)
	}
}

// overlayTarget is kernel overlayfs with the template tree as lower layer.
type overlayTarget struct {
	d      *dataset
	mounts []string
	open   map[int]string
}

func (t *overlayTarget) Name() string { return "overlay" }

func (t *overlayTarget) Open(i int) (string, error) {
	if t.open == nil {
		t.open = map[int]string{}
	}
	if m, ok := t.open[i]; ok {
		return m, nil
	}
	return t.Fresh(i)
}

func (t *overlayTarget) Fresh(i int) (string, error) {
	merged, opts, err := freshLayers(t.d, "overlay", i)
	if err != nil {
		return "", err
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount overlay: %w", err)
	}
	t.mounts = append(t.mounts, merged)
	if t.open == nil {
		t.open = map[int]string{}
	}
	t.open[i] = merged
	return merged, nil
}

func (t *overlayTarget) ServerPID(int) int { return 0 }

func (t *overlayTarget) Close() {
	for _, m := range t.mounts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	t.mounts, t.open = nil, nil
}

// fuseOverlayTarget is fuse-overlayfs, the template tree as lower layer.
type fuseOverlayTarget struct {
	d    *dataset
	bin  string
	cmds map[int]*exec.Cmd
	open map[int]string
}

func (t *fuseOverlayTarget) Name() string { return "fuse-overlayfs" }

func (t *fuseOverlayTarget) Open(i int) (string, error) {
	if m, ok := t.open[i]; ok {
		return m, nil
	}
	return t.Fresh(i)
}

func (t *fuseOverlayTarget) Fresh(i int) (string, error) {
	if t.cmds == nil {
		t.cmds, t.open = map[int]*exec.Cmd{}, map[int]string{}
	}
	t.stop(i)
	merged, opts, err := freshLayers(t.d, "fuse-overlayfs", i)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(t.bin, "-f", "-o", opts, merged)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("fuse-overlayfs: %w", err)
	}
	// Ready when the mount shows.
	deadline := time.Now().Add(10 * time.Second)
	for !isMountPoint(merged) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return "", fmt.Errorf("fuse-overlayfs did not mount %s", merged)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.cmds[i], t.open[i] = cmd, merged
	return merged, nil
}

func (t *fuseOverlayTarget) stop(i int) {
	if m, ok := t.open[i]; ok {
		unix.Unmount(m, unix.MNT_DETACH)
		delete(t.open, i)
	}
	if c, ok := t.cmds[i]; ok {
		c.Process.Kill()
		c.Wait()
		delete(t.cmds, i)
	}
}

func (t *fuseOverlayTarget) ServerPID(i int) int {
	if c, ok := t.cmds[i]; ok {
		return c.Process.Pid
	}
	return 0
}

func (t *fuseOverlayTarget) Close() {
	for i := range t.cmds {
		t.stop(i)
	}
}

// isMountPoint reports whether p is the root of a mount.
func isMountPoint(p string) bool {
	var a, b unix.Stat_t
	if unix.Stat(p, &a) != nil || unix.Stat(filepath.Dir(p), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

func (t *nativeTarget) Fresh(i int) (string, error) { return t.Open(i) }

func (t *nativeTarget) Upper(int) string { return "" }

func (t *ezfsTarget) Upper(i int) string {
	return filepath.Join(t.d.dir, fmt.Sprintf("%s-%d", t.Name(), i), "private")
}

func (t *overlayTarget) Upper(i int) string {
	return filepath.Join(layersDir(t.d, "overlay", i), "upper")
}

func (t *fuseOverlayTarget) Upper(i int) string {
	return filepath.Join(layersDir(t.d, "fuse-overlayfs", i), "upper")
}

func layersDir(d *dataset, kind string, i int) string {
	return filepath.Join(d.dir, fmt.Sprintf("%s-%d", kind, i))
}

// freshLayers makes empty upper, work and merged directories for an
// overlay of the template tree, and returns the mountpoint and options.
func freshLayers(d *dataset, kind string, i int) (merged, opts string, err error) {
	base := layersDir(d, kind, i)
	merged = filepath.Join(base, "merged")
	unix.Unmount(merged, unix.MNT_DETACH)
	os.RemoveAll(base)
	for _, sub := range []string{"upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(base, sub), 0o755); err != nil {
			return "", "", err
		}
	}
	opts = fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(d.template, pkgDir),
		filepath.Join(base, "upper"), filepath.Join(base, "work"))
	return merged, opts, nil
}

// opCounts sums the FUSE requests mountd served for this target's mounts.
func (t *ezfsTarget) opCounts() map[string]int64 {
	out, err := t.command("mountd", "status", "--json").Output()
	if err != nil {
		return nil
	}
	var st struct {
		Mounts []struct {
			Mountpoint string           `json:"mountpoint"`
			Ops        map[string]int64 `json:"ops"`
		} `json:"mounts"`
	}
	if json.Unmarshal(out, &st) != nil {
		return nil
	}
	mine := map[string]bool{}
	for _, m := range t.mounts {
		mine[m] = true
	}
	sum := map[string]int64{}
	for _, m := range st.Mounts {
		if mine[m.Mountpoint] {
			for op, n := range m.Ops {
				sum[op] += n
			}
		}
	}
	return sum
}
