// Package testenv holds the skip-by-detection helpers shared by tests:
// one per need, and under CI=true a missing need fails the test instead
// of skipping it, so CI always exercises the real mount.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, cannot skip: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot skips (fails in CI) unless running as uid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (trusted.* attributes, FUSE passthrough)")
	}
}

// RequireFUSE skips (fails in CI) unless /dev/fuse can be opened and we
// are root: every ezfs mount needs both.
func RequireFUSE(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		skipOrFail(t, "FUSE unavailable: %v", err)
		return
	}
	unix.Close(fd)
}

// Unmount detaches mnt if it is still mounted, lazily when busy; for
// t.Cleanup, so a failed test leaves no mount behind.
func Unmount(t testing.TB, mnt string) {
	if err := unix.Unmount(mnt, 0); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	}
}

// Btrfs mounts a new btrfs filesystem of a loop file and returns its
// mountpoint; the cleanup unmounts it (lazily when busy) and deletes the
// file. It skips (fails in CI, whose set-up installs btrfs-progs) when
// mkfs.btrfs or the kernel's btrfs is missing.
func Btrfs(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	if _, err := exec.LookPath("mkfs.btrfs"); err != nil {
		skipOrFail(t, "no mkfs.btrfs (apt install btrfs-progs)")
		return ""
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "btrfs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// 512 MiB, sparse: mkfs.btrfs refuses less than about 110 MiB.
	if err := os.Truncate(img, 512<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.btrfs", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.btrfs: %v\n%s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		skipOrFail(t, "mount a btrfs loop file: %v: %s", err, out)
		return ""
	}
	t.Cleanup(func() { Unmount(t, mnt) })
	return mnt
}
