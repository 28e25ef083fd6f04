// Package testenv holds the skip-by-detection helpers shared by tests:
// one per need, and under CI=true a missing need fails the test instead
// of skipping it, so CI always exercises the real mount.
package testenv

import (
	"os"
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
