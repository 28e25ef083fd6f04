package ct

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
	"golang.org/x/sys/unix"
)

// What a crash can leave in a private area, each found, each mended
// where fsck can, and nothing found on a second run but what it cannot.
func TestFsckRepairs(t *testing.T) {
	n := newNode(t)
	c := n.create(t, "7")
	parent := filepath.Dir(c.Private)
	set := func(rel, value string) {
		tmpltest.Must(t, unix.Lsetxattr(filepath.Join(c.Root, rel), linkattr.Name, []byte(value), 0))
	}
	for _, tc := range []struct {
		problem string
		plant   func()
		path    string // where fsck reports it
		fixable bool
	}{
		{"staging left by an interrupted create", func() { os.Mkdir(filepath.Join(parent, ".new-7-12345"), 0o700) }, filepath.Join(parent, ".new-7-12345"), true},
		{"half-written record", func() { os.WriteFile(filepath.Join(c.Private, ".new-ve.conf-12345"), nil, 0o600) }, filepath.Join(c.Private, ".new-ve.conf-12345"), true},
		{"half-written record", func() {
			os.WriteFile(filepath.Join(c.Private, "templates", ".new-vzpackages"), nil, 0o600)
		}, filepath.Join(c.Private, "templates", ".new-vzpackages"), true},
		{"template script", func() {
			os.MkdirAll(filepath.Join(c.Root, "tmp"), 0o1777)
			os.WriteFile(filepath.Join(c.Root, "tmp", ".ezfs-post-install-1"), nil, 0o700)
		}, filepath.Join(c.Root, "tmp", ".ezfs-post-install-1"), true},
		{"copy-up was interrupted", func() {
			f, err := os.OpenFile(filepath.Join(c.Root, "etc/os-release"), os.O_WRONLY, 0)
			tmpltest.Must(t, err)
			f.WriteString("stray")
			f.Close()
		}, "etc/os-release", true},
		{"which is gone", func() { set("usr/bin/tool", "demo/1/x86_64/tool_0.9_amd64/usr/bin/tool") }, "usr/bin/tool", true},
		{"which is gone", func() { set("usr/lib/libfoo.so", "demo/1/x86_64/gone_1_amd64/usr/lib/libfoo.so") }, "usr/lib/libfoo.so", true},
		{"malformed link entry", func() { set("etc/hostname", "../../etc/shadow") }, "etc/hostname", false},
	} {
		tc.plant()
		t.Run(tc.problem, func(t *testing.T) {
			for _, repair := range []bool{false, true} {
				fs, err := Fsck(n.area, n.cfg, c.ID, repair)
				tmpltest.Must(t, err)
				var found *Finding
				for i := range fs {
					if fs[i].Path == tc.path && strings.Contains(fs[i].Problem, tc.problem) {
						found = &fs[i]
					}
				}
				if found == nil || found.Fixed != (repair && tc.fixable) {
					t.Fatalf("repair %v: %s not found as %q (fixed %v) in %+v", repair, tc.path, tc.problem, repair && tc.fixable, fs)
				}
			}
		})
	}
	fs, err := Fsck(n.area, n.cfg, c.ID, true)
	tmpltest.Must(t, err)
	var left []string
	for _, f := range fs {
		left = append(left, f.Path)
	}
	sort.Strings(left)
	if len(left) != 1 || left[0] != "etc/hostname" {
		t.Errorf("after repair, fsck finds %+v", fs)
	}
	// The relinked entry leads to the version the container lists.
	buf := make([]byte, 256)
	sz, _ := unix.Lgetxattr(filepath.Join(c.Root, "usr/bin/tool"), linkattr.Name, buf)
	if got := string(buf[:sz]); got != "demo/1/x86_64/tool_1.0_amd64/usr/bin/tool" {
		t.Errorf("tool relinked to %q", got)
	}
	if _, err := os.Lstat(filepath.Join(c.Root, "usr/lib/libfoo.so")); err == nil {
		t.Error("a link entry no package has is still there")
	}
	if _, err := Fsck(n.area, n.cfg, "nope", false); err == nil {
		t.Error("fsck of a missing container")
	}
}

func TestSetNetwork(t *testing.T) {
	n := newNode(t)
	c := n.create(t, "8")
	for _, tc := range []struct {
		set      Network
		hostname string
		resolv   string
		err      bool
	}{
		{set: Network{Hostname: "web.example"}, hostname: "web.example\n"},
		{set: Network{Nameservers: []string{"192.0.2.1", "2001:db8::1"}}, hostname: "web.example\n", resolv: "nameserver 192.0.2.1\nnameserver 2001:db8::1\n"},
		{set: Network{Hostname: "-bad"}, err: true},
		{set: Network{Nameservers: []string{"dns.example"}}, err: true},
	} {
		var invalidated []string
		err := c.SetNetwork(tc.set, Options{Invalidate: func(p []string) error { invalidated = p; return nil }})
		if (err != nil) != tc.err {
			t.Fatalf("%+v: %v", tc.set, err)
		}
		if err != nil {
			continue
		}
		host, _ := os.ReadFile(filepath.Join(c.Root, "etc/hostname"))
		resolv, _ := os.ReadFile(filepath.Join(c.Root, "etc/resolv.conf"))
		if string(host) != tc.hostname || !strings.HasSuffix(string(resolv), tc.resolv) || len(invalidated) != 2 {
			t.Errorf("%+v: hostname %q, resolv.conf %q, invalidated %v", tc.set, host, resolv, invalidated)
		}
		nw, err := LoadNetwork(n.cfg, c.ID)
		if err != nil || nw.Hostname != strings.TrimSpace(tc.hostname) {
			t.Errorf("loaded %+v %v", nw, err)
		}
	}
	if cts, _ := tmpl.Containers(n.cfg); len(cts) != 1 || cts[0].ID != "8" || cts[0].OSTemplate != tmpltest.OSName {
		t.Errorf("containers %+v", cts)
	}
}
