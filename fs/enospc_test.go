package fs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A full disk: copy-ups and writes get ENOSPC, the link stays intact,
// and everything works again once there is room.
func TestFullDisk(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<17) // 2 MiB
	w := newWorld(t, files{"big": big}, nil)
	w.unmount(t)
	// The private tree moves onto a 1 MiB tmpfs.
	entries := w.priv + ".orig"
	if err := os.Rename(w.priv, entries); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(w.priv, 0o755)
	if err := unix.Mount("tmpfs", w.priv, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(w.priv, unix.MNT_DETACH) })
	makeLink(t, w.priv, "big", "pkg/big")
	w.mount(t)

	p := filepath.Join(w.mnt, "big")
	if _, err := os.OpenFile(p, os.O_RDWR, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("copy-up on a full disk: %v, want ENOSPC", err)
	}
	if !isLink(t, filepath.Join(w.priv, "big")) {
		t.Error("the failed copy-up dropped the link")
	}
	var st unix.Stat_t
	unix.Stat(filepath.Join(w.priv, "big"), &st)
	if st.Blocks != 0 {
		t.Errorf("the failed copy-up left %d blocks in the entry", st.Blocks)
	}
	if got := readFile(t, p); got != big {
		t.Error("the link no longer reads as the template file")
	}
	// Writes of the container's own files get ENOSPC too.
	f, err := os.Create(filepath.Join(w.mnt, "own"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write([]byte(big))
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write on a full disk: %v, want ENOSPC", err)
	}
	if err := os.Remove(filepath.Join(w.mnt, "own")); err != nil {
		t.Fatal(err)
	}
	// Room again: the copy-up succeeds.
	if err := unix.Mount("", w.priv, "", unix.MS_REMOUNT, "size=8m"); err != nil {
		t.Fatal(err)
	}
	f, err = os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("copy-up with room: %v", err)
	}
	f.WriteAt([]byte("X"), 0)
	f.Close()
	if got := readFile(t, p); got != "X"+big[1:] {
		t.Error("copy after ENOSPC is wrong")
	}
	if got := readFile(t, filepath.Join(w.tmpl, "pkg/big")); got != big {
		t.Error("the template changed")
	}
}
