package ctl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/internal/testenv"
)

type mountdStatus struct {
	Running bool `json:"running"`
	PID     int  `json:"pid"`
	Mounts  []struct {
		ID         string `json:"id"`
		Mountpoint string `json:"mountpoint"`
		Detached   bool   `json:"detached"`
	} `json:"mounts"`
}

func (n *node) status(t *testing.T) mountdStatus {
	t.Helper()
	var st mountdStatus
	if err := json.Unmarshal([]byte(n.ok(t, "mountd", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMountThroughMountd: mount and umount, of a private tree and of a
// container, go to the node's mountd (served here), and status shows
// them.
func TestMountThroughMountd(t *testing.T) {
	testenv.RequireFUSE(t)
	n := newNode(t)
	if st := n.status(t); st.Running || len(st.Mounts) != 0 {
		t.Errorf("status with no daemon: %+v", st)
	}
	if out := n.ok(t, "mountd", "status"); !strings.Contains(out, "not running") {
		t.Errorf("status with no daemon: %q", out)
	}
	n.startMountd(t)
	tmplDir, priv, mnt := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, priv, map[string]string{"f": "private\n"})

	steps := []struct {
		args  []string
		want  string // in the output, or in the error when fails
		fails bool
		check func(t *testing.T)
	}{
		{args: []string{"mount", "--template", tmplDir, "--private", priv, "--nosuid", mnt}, want: "served by mountd",
			check: func(t *testing.T) {
				if b, err := os.ReadFile(filepath.Join(mnt, "f")); string(b) != "private\n" {
					t.Errorf("read through the mount: %q %v", b, err)
				}
				if st := n.status(t); !st.Running || st.PID != os.Getpid() || len(st.Mounts) != 1 || st.Mounts[0].Mountpoint != mnt {
					t.Errorf("status: %+v", st)
				}
			}},
		{args: []string{"mountd", "status"}, want: mnt},
		{args: []string{"mount", "--template", tmplDir, "--private", priv, "--foreground", mnt}, fails: true, want: "already mounted"},
		{args: []string{"mount", "--template", tmplDir, "--private", filepath.Join(priv, "f"), mnt}, fails: true, want: "is not a directory"},
		{args: []string{"mount", "--template", tmplDir, "--private", priv, filepath.Join(priv, "none")}, fails: true, want: "does not exist; create it with"},
		{args: []string{"umount", mnt}, check: func(t *testing.T) {
			if _, ok, _ := mountinfo.Find(mnt); ok {
				t.Error("still mounted")
			}
		}},
		{args: []string{"umount", mnt}, fails: true, want: "is not mounted"},
	}
	for _, s := range steps {
		out, err := ezctl(t, n.args(s.args)...)
		switch {
		case s.fails && (err == nil || !strings.Contains(err.Error(), s.want)):
			t.Fatalf("ezctl %s: %v, want an error saying %q", strings.Join(s.args, " "), err, s.want)
		case !s.fails && err != nil:
			t.Fatalf("ezctl %s: %v\n%s", strings.Join(s.args, " "), err, out)
		case !s.fails && !strings.Contains(out, s.want):
			t.Errorf("ezctl %s says %q, want %q", strings.Join(s.args, " "), out, s.want)
		}
		if s.check != nil {
			s.check(t)
		}
	}
}

// TestMountContainer: mount CTID and umount CTID resolve the container's
// directories from the configuration; a busy container is refused with
// what to do, and --lazy detaches it.
func TestMountContainer(t *testing.T) {
	testenv.RequireFUSE(t)
	n := newNode(t)
	n.demo(t)
	n.ok(t, "repo", "index", n.repo)
	n.ok(t, "template", "install", n.src)
	n.ok(t, "cache", "create", "demo-1-x86_64")
	n.ok(t, "create", "102", "--ostemplate", "demo-1-x86_64")
	n.startMountd(t)
	root := filepath.Join(n.vz, "root", "102")
	if out := n.ok(t, "mount", "102"); !strings.Contains(out, "mounted container 102 at "+root) {
		t.Errorf("mount says %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/os-release")); string(b) != "NAME=demo\n" {
		t.Errorf("a template file through the mount: %q %v", b, err)
	}
	var cts []ctInfo
	if err := json.Unmarshal([]byte(n.ok(t, "list", "--json")), &cts); err != nil || len(cts) != 1 || !cts[0].Mounted {
		t.Errorf("list of a mounted container: %+v %v", cts, err)
	}
	n.fails(t, "unmount it first", "destroy", "102")
	f, err := os.Open(filepath.Join(root, "etc/os-release"))
	if err != nil {
		t.Fatal(err)
	}
	n.fails(t, "umount --lazy", "umount", "102")
	n.ok(t, "umount", "--lazy", "102")
	f.Close()
	waitFor(t, "the detached mount to end", func() bool { return len(n.status(t).Mounts) == 0 })
	n.ok(t, "destroy", "102")
}
