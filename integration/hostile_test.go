package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// asNobody runs a command as uid/gid 65534, as an unprivileged process
// of a container would.
func asNobody(t *testing.T, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestHostileContainer(t *testing.T) {
	n := ctNode(t)
	n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64")
	n.ok(t, "create", "102", "--ostemplate", "demo-1-x86_64")
	writeFile(t, filepath.Join(n.priv("102"), "root/etc/secret"), "102's secret\n")
	n.ok(t, "mount", "101")
	defer n.ok(t, "umount", "101")
	root := n.root("101")
	must(t, os.Chmod(root, 0o755))
	must(t, os.Mkdir(filepath.Join(root, "tmp"), 0o755))
	must(t, os.Chmod(filepath.Join(root, "tmp"), 0o1777))

	t.Run("symlinks to another container or the host lead nowhere inside", func(t *testing.T) {
		must(t, os.Symlink(filepath.Join(n.priv("102"), "root/etc/secret"), filepath.Join(root, "evil-abs")))
		must(t, os.Symlink(strings.Repeat("../", 20)+strings.TrimPrefix(filepath.Join(n.priv("102"), "root/etc/secret"), "/"), filepath.Join(root, "evil-up")))
		for _, l := range []string{"/evil-abs", "/evil-up"} {
			out, err := n.ezctl(t, "exec", "101", "--", "/bin/sh", "-c", "read x < "+l+" && echo \"$x\"")
			if err == nil || strings.Contains(out, "secret") {
				t.Errorf("%s inside 101 reached 102's file: %q", l, out)
			}
		}
	})
	t.Run("hard links and renames across the mount are refused", func(t *testing.T) {
		host := filepath.Join(filepath.Dir(n.vz), "hostfile")
		writeFile(t, host, "host\n")
		if err := os.Link(host, filepath.Join(root, "hl")); !errors.Is(err, syscall.EXDEV) {
			t.Errorf("hard link from outside: %v, want EXDEV", err)
		}
		if err := os.Rename(filepath.Join(root, "etc/hostname"), filepath.Join(filepath.Dir(n.vz), "stolen")); !errors.Is(err, syscall.EXDEV) {
			t.Errorf("rename out of the mount: %v, want EXDEV", err)
		}
		if err := os.Rename(host, filepath.Join(root, "planted")); !errors.Is(err, syscall.EXDEV) {
			t.Errorf("rename into the mount: %v, want EXDEV", err)
		}
	})
	t.Run("an unprivileged user cannot forge attributes, devices or read root's files", func(t *testing.T) {
		secret := filepath.Join(root, "root-only")
		must(t, os.WriteFile(secret, []byte("root only\n"), 0o600))
		if out, err := asNobody(t, "cat", secret); err == nil {
			t.Errorf("nobody read a 0600 root file: %q", out)
		}
		must(t, os.WriteFile(filepath.Join(root, "tmp/mine"), nil, 0o666))
		must(t, os.Chown(filepath.Join(root, "tmp/mine"), 65534, 65534))
		for _, attr := range []string{"security.capability", "trusted.ezfs.link", "trusted.other"} {
			if _, err := asNobody(t, "setfattr", "-n", attr, "-v", "0x01000002", filepath.Join(root, "tmp/mine")); err == nil {
				t.Errorf("nobody set %s", attr)
			}
		}
		if _, err := asNobody(t, "mknod", filepath.Join(root, "tmp/kmem"), "c", "1", "2"); err == nil {
			t.Error("nobody made a device node")
		}
	})
	t.Run("root inside cannot forge a link either", func(t *testing.T) {
		err := unix.Setxattr(filepath.Join(root, "tmp/mine"), "trusted.ezfs.link", []byte("demo/1/x86_64/sh_1.0_amd64/usr/bin/sh"), 0)
		if err != unix.EPERM {
			t.Errorf("root set the link attribute from inside: %v", err)
		}
	})
	t.Run("template files stay unchanged", func(t *testing.T) {
		f, err := os.OpenFile(filepath.Join(root, "etc/hostname"), os.O_WRONLY|os.O_TRUNC, 0)
		must(t, err)
		f.WriteString("pwned\n")
		f.Close()
		if got := readFile(t, filepath.Join(n.area(), "demo/1/x86_64/base-files_1.0_amd64/etc/hostname")); got != "demo\n" {
			t.Errorf("template file changed: %q", got)
		}
	})
}
