package fs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// aclScript creates files under default ACLs with umask 022 and lists
// every mode and ACL: a new file's mode comes from the default ACL, not
// the umask (POSIX.1e), a set-group-ID directory passes its bit on.
const aclScript = `set -e
umask 022
mkdir plain acl sgid named
setfacl -d -m g::rwx acl
chmod 2775 sgid
setfacl -d -m u::rwx,g::rwx,o::rx sgid
setfacl -d -m u:65534:rwx,g::r-x,m::rwx named
for d in plain acl sgid named; do
	touch $d/f
	mkdir $d/d
	mkfifo $d/p
	python3 -c "import os; os.close(os.open('$d/x', os.O_CREAT|os.O_WRONLY, 0o640))"
	mkdir -m 0700 $d/private
done
mkdir sgid/d/deeper
stat -c '%A %n' plain/* acl/* sgid/* sgid/d/deeper named/*
getfacl -pn acl/f acl/d sgid/d sgid/d/deeper named/f named/d named/x
`

func runACLScript(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", aclScript)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %v\n%s", dir, err, out)
	}
	return string(out)
}

func requireACLTools(t *testing.T) {
	for _, tool := range []string{"setfacl", "getfacl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (apt install acl python3)", tool)
		}
	}
}

// TestDefaultACLModes: modes and ACLs of new files match those of the
// same script run in a directory of the host's filesystem.
func TestDefaultACLModes(t *testing.T) {
	requireACLTools(t)
	host := t.TempDir()
	want := runACLScript(t, host)
	w := newWorld(t, nil, nil)
	got := runACLScript(t, w.mnt)
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("modes through the mount differ from the host's (-host +ezfs):\n%s", diff)
	}
}

// TestACLPermissions: the kernel's permission checks follow a file's
// ACL, and a change to it at once (the mode it implies included).
func TestACLPermissions(t *testing.T) {
	requireACLTools(t)
	w := newWorld(t, nil, files{"f": "data\n"})
	w.reachable(t)
	p := filepath.Join(w.mnt, "f")
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	write := func() error {
		_, err := asNobody(t, "sh", "-c", "echo more >> "+p)
		return err
	}
	stat := func() os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode()
	}
	if write() == nil {
		t.Fatal("nobody wrote a 0640 root file")
	}
	setfacl := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("setfacl", append(args, p)...).CombinedOutput(); err != nil {
			t.Fatalf("setfacl %v: %v\n%s", args, err, out)
		}
	}
	setfacl("-m", "u:65534:rw")
	if got := stat(); got != 0o660 {
		t.Errorf("mode after granting nobody rw: %v, want -rw-rw----", got)
	}
	if err := write(); err != nil {
		t.Errorf("nobody cannot write after setfacl -m u:nobody:rw: %v", err)
	}
	setfacl("-m", "u:65534:r")
	if got := stat(); got != 0o640 {
		t.Errorf("mode after revoking: %v, want -rw-r-----", got)
	}
	if write() == nil {
		t.Error("nobody still writes after the right was revoked")
	}
	setfacl("-m", "u:65534:rwx")
	setfacl("-x", "u:65534")
	if write() == nil {
		t.Error("nobody still writes after the entry was removed")
	}
}
