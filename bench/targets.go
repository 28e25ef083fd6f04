package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"

	"golang.org/x/sys/unix"
)

// target is one way of showing the dataset to a container: instance i is
// the i-th container's view, laid out like the template's pkg directory.
type target interface {
	Name() string
	Open(i int) (root string, err error)
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
	for _, pid := range t.pids {
		unix.Kill(pid, unix.SIGTERM) // the benchmark's mountd
		break
	}
}

// overlayTarget is kernel overlayfs with the template tree as lower layer.
type overlayTarget struct {
	d      *dataset
	mounts []string
}

func (t *overlayTarget) Name() string { return "overlay" }

func (t *overlayTarget) Open(i int) (string, error) {
	base := filepath.Join(t.d.dir, fmt.Sprintf("overlay-%d", i))
	merged := filepath.Join(base, "merged")
	unix.Unmount(merged, unix.MNT_DETACH)
	os.RemoveAll(base)
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return "", err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(t.d.template, pkgDir),
		filepath.Join(base, "upper"), filepath.Join(base, "work"))
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount overlay: %w", err)
	}
	t.mounts = append(t.mounts, merged)
	return merged, nil
}

func (t *overlayTarget) ServerPID(int) int { return 0 }

func (t *overlayTarget) Close() {
	for _, m := range t.mounts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	t.mounts = nil
}
