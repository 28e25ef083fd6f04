package tree

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The skeleton makes missing parents the same way (a package whose
// manifest has no entries for them).
func TestParentInRootMissing(t *testing.T) {
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	before := openFDs(t)
	dfd, name, err := ParentInRoot(fd, "a/b/file", true)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(dfd)
	if name != "file" {
		t.Errorf("name %q", name)
	}
	if st, err := os.Stat(filepath.Join(dir, "a/b")); err != nil || !st.IsDir() {
		t.Errorf("a/b: %v", err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d fds open before, %d after", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	names, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}
