package fs

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// POSIX ACLs as the kernel takes them in system.posix_acl_* attributes:
// a version, then (tag, permissions, id) entries sorted by tag and id.
// Built here rather than with setfacl, which CI does not install.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
	aclNoID     = 0xffffffff

	aclAccess  = "system.posix_acl_access"
	aclDefault = "system.posix_acl_default"
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

func encodeACL(entries ...aclEntry) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// decodeACL renders an ACL as getfacl's short text.
func decodeACL(b []byte) string {
	if len(b) < 4 {
		return fmt.Sprintf("malformed %x", b)
	}
	names := map[uint16]string{aclUserObj: "u:", aclUser: "u:", aclGroupObj: "g:", aclGroup: "g:", aclMask: "m:", aclOther: "o:"}
	var out []string
	for b = b[4:]; len(b) >= 8; b = b[8:] {
		tag, perm, id := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])
		s := names[tag]
		if id != aclNoID {
			s += fmt.Sprint(id)
		}
		out = append(out, s+":"+rwx(perm))
	}
	return strings.Join(out, ",")
}

func rwx(p uint16) string {
	s := []byte("---")
	for i, c := range "rwx" {
		if p&(4>>i) != 0 {
			s[i] = byte(c)
		}
	}
	return string(s)
}

func setACL(t *testing.T, path, attr string, entries ...aclEntry) {
	t.Helper()
	if err := unix.Setxattr(path, attr, encodeACL(entries...), 0); err != nil {
		t.Fatalf("set %s on %s: %v", attr, path, err)
	}
}

func getACL(path, attr string) string {
	sz, err := unix.Lgetxattr(path, attr, nil)
	if err != nil {
		return err.Error()
	}
	b := make([]byte, sz)
	sz, err = unix.Lgetxattr(path, attr, b)
	if err != nil {
		return err.Error()
	}
	return decodeACL(b[:sz])
}

// aclScript creates files, with umask 022, in directories with and
// without default ACLs.
const aclScript = `set -e
umask 022
for d in plain acl sgid named; do
	touch $d/f
	mkdir $d/d
	mkfifo $d/p
	perl -MFcntl -e 'sysopen(my $f, $ARGV[0], O_CREAT|O_WRONLY, 0640) or die "$!"' $d/x
	mkdir -m 0700 $d/private
done
mkdir sgid/d/deeper
`

// aclTree sets up the directories of aclScript under dir, runs it and
// returns every mode and ACL below dir.
func aclTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	for _, d := range []string{"plain", "acl", "sgid", "named"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "sgid"), 0o2775); err != nil {
		t.Fatal(err)
	}
	// setfacl -d -m g::rwx acl
	setACL(t, filepath.Join(dir, "acl"), aclDefault,
		aclEntry{aclUserObj, 7, aclNoID}, aclEntry{aclGroupObj, 7, aclNoID}, aclEntry{aclOther, 5, aclNoID})
	// setfacl -d -m u::rwx,g::rwx,o::rx sgid
	setACL(t, filepath.Join(dir, "sgid"), aclDefault,
		aclEntry{aclUserObj, 7, aclNoID}, aclEntry{aclGroupObj, 7, aclNoID}, aclEntry{aclOther, 5, aclNoID})
	// setfacl -d -m u:65534:rwx,g::r-x,m::rwx named
	setACL(t, filepath.Join(dir, "named"), aclDefault,
		aclEntry{aclUserObj, 7, aclNoID}, aclEntry{aclUser, 7, nobody}, aclEntry{aclGroupObj, 5, aclNoID},
		aclEntry{aclMask, 7, aclNoID}, aclEntry{aclOther, 5, aclNoID})
	cmd := exec.Command("sh", "-c", aclScript)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in %s: %v\n%s", dir, err, out)
	}
	got := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got[rel] = fmt.Sprintf("%v access %s default %s", fi.Mode(), getACL(p, aclAccess), getACL(p, aclDefault))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func requirePerl(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("no perl (Debian's perl-base is essential)")
	}
}

// TestDefaultACLModes: modes and ACLs of new files match those of the
// same script run in a directory of the host's filesystem: a new file's
// mode comes from a default ACL, not the umask (POSIX.1e), a
// set-group-ID directory passes its bit on, group:: and mask:: entries
// are right.
func TestDefaultACLModes(t *testing.T) {
	requirePerl(t)
	want := aclTree(t, t.TempDir())
	w := newWorld(t, nil, nil)
	got := aclTree(t, w.mnt)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("modes through the mount differ from the host's (-host +ezfs):\n%s", diff)
	}
}

// TestACLPermissions: the kernel's permission checks follow a file's
// ACL, and a change of it (with the mode it implies) at once.
func TestACLPermissions(t *testing.T) {
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
	// setfacl -m u:nobody:rw f
	setACL(t, p, aclAccess, aclEntry{aclUserObj, 6, aclNoID}, aclEntry{aclUser, 6, nobody},
		aclEntry{aclGroupObj, 4, aclNoID}, aclEntry{aclMask, 6, aclNoID}, aclEntry{aclOther, 0, aclNoID})
	if got := stat(); got != 0o660 {
		t.Errorf("mode after granting nobody rw: %v, want -rw-rw----", got)
	}
	if err := write(); err != nil {
		t.Errorf("nobody cannot write after setfacl -m u:nobody:rw: %v", err)
	}
	// setfacl -m u:nobody:r f
	setACL(t, p, aclAccess, aclEntry{aclUserObj, 6, aclNoID}, aclEntry{aclUser, 4, nobody},
		aclEntry{aclGroupObj, 4, aclNoID}, aclEntry{aclMask, 4, aclNoID}, aclEntry{aclOther, 0, aclNoID})
	if got := stat(); got != 0o640 {
		t.Errorf("mode after revoking: %v, want -rw-r-----", got)
	}
	if write() == nil {
		t.Error("nobody still writes after the right was revoked")
	}
	// setfacl -m u:nobody:rw, then -x u:nobody
	setACL(t, p, aclAccess, aclEntry{aclUserObj, 6, aclNoID}, aclEntry{aclUser, 6, nobody},
		aclEntry{aclGroupObj, 4, aclNoID}, aclEntry{aclMask, 6, aclNoID}, aclEntry{aclOther, 0, aclNoID})
	if err := unix.Removexattr(p, aclAccess); err != nil {
		t.Fatal(err)
	}
	if write() == nil {
		t.Error("nobody still writes after the ACL was removed")
	}
}
