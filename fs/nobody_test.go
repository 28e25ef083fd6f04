package fs

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the unprivileged uid and gid tests act as.
const nobody = 65534

// asNobody runs a command as uid/gid 65534 with no supplementary groups,
// as an unprivileged process of a container would.
func asNobody(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// reachable lets every user walk down to w's mount: t.TempDir() makes
// its directories 0700.
func (w *world) reachable(t *testing.T) {
	t.Helper()
	for d := filepath.Dir(w.mnt); d != "/" && d != "."; d = filepath.Dir(d) {
		if d == os.TempDir() {
			break
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
