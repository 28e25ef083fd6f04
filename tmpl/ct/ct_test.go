package ct

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/internal/failpoint"
	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// node is a template area with the demo templates, in a --vz layout.
type node struct {
	area *tmpl.Area
	cfg  *tmpl.VZConf
	repo string
}

func newNode(t *testing.T) *node {
	t.Helper()
	testenv.RequireRoot(t) // link entries are trusted.* attributes
	dir := t.TempDir()
	repo, src := tmpltest.Demo(t, dir)
	cfg, err := tmpl.VZDirConf(filepath.Join(dir, "vz"))
	tmpltest.Must(t, err)
	a := &tmpl.Area{Root: cfg.Template}
	_, err = a.InstallTemplates(src)
	tmpltest.Must(t, err)
	return &node{area: a, cfg: cfg, repo: repo}
}

// webAt makes the repository offer web at version 1.0 or 2.0: 2.0
// changes usr/sbin/web and etc/web.conf, drops usr/share/web/old.txt and
// adds usr/share/web/new.txt.
func (n *node) webAt(t *testing.T, version string) {
	t.Helper()
	pkgs := slices.Clone(tmpltest.DemoPackages)
	if version == "2.0" {
		pkgs = append(pkgs, tmpltest.Pkg{Name: "web", Version: "2.0", Depends: "libfoo", Files: map[string]string{
			"usr/sbin/web": "web v2\n", "etc/web.conf": "port=8080\n", "usr/share/web/new.txt": "new\n"}})
	}
	tmpltest.WriteRepo(t, n.repo, pkgs...)
}

func (n *node) create(t *testing.T, id string) *CT {
	t.Helper()
	c, err := Create(context.Background(), n.area, n.cfg, id, tmpltest.OSName, Options{})
	tmpltest.Must(t, err)
	return c
}

// entry is what a container's tree holds at a path.
type entry struct {
	Mode  fs.FileMode
	Link  string // symlink target
	Value string // link attribute
	Data  string
}

// state is a container's tree and records, without what names the
// container (its hostname and resolvers).
func state(t *testing.T, c *CT) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	tmpltest.Must(t, filepath.Walk(c.Root, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.Root, p)
		if rel == "." || rel == "etc/hostname" || rel == "etc/resolv.conf" {
			return nil
		}
		e := entry{Mode: info.Mode()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Link, _ = os.Readlink(p)
		case info.Mode().IsRegular():
			buf := make([]byte, 512)
			if n, err := unix.Lgetxattr(p, linkattr.Name, buf); err == nil {
				e.Value = string(buf[:n])
			}
			data, _ := os.ReadFile(p)
			e.Data = string(data)
		}
		out[rel] = e
		return nil
	}))
	vz, err := os.ReadFile(filepath.Join(c.Private, tmpl.VZPackagesFile))
	tmpltest.Must(t, err)
	out["<vzpackages>"] = entry{Data: string(vz)}
	out["<apps>"] = entry{Data: strings.Join(c.Apps, " ")}
	return out
}

// changeFile makes a link entry the container's own file, as a copy-up
// does.
func changeFile(t *testing.T, c *CT, rel, data string) {
	t.Helper()
	p := filepath.Join(c.Root, rel)
	unix.Lremovexattr(p, linkattr.Name)
	tmpltest.Must(t, os.WriteFile(p, []byte(data), 0o644))
}

func TestContainerLifecycle(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	c := n.create(t, "101")
	if _, err := Create(ctx, n.area, n.cfg, "101", tmpltest.OSName, Options{}); !errors.Is(err, ErrContainerExists) {
		t.Errorf("second create: %v", err)
	}
	if _, err := Create(ctx, n.area, n.cfg, "../x", tmpltest.OSName, Options{}); err == nil {
		t.Error("created ../x")
	}
	if _, err := Open(n.area, n.cfg, "102"); !errors.Is(err, ErrNoContainer) {
		t.Errorf("open a missing container: %v", err)
	}
	st := state(t, c)
	if v := st["usr/bin/tool"].Value; v != "demo/1/x86_64/tool_1.0_amd64/usr/bin/tool" {
		t.Errorf("tool links to %q", v)
	}
	if st["bin"].Link != "usr/bin" {
		t.Errorf("bin: %+v", st["bin"])
	}

	for _, tc := range []struct {
		name string
		do   func() (*Report, error)
		err  string
		want map[string]string // path -> link value ("" : the container's own file, "-": gone)
		kept []string
	}{
		{name: "install web", do: func() (*Report, error) { return c.Install(ctx, []string{"web"}, Options{}) },
			want: map[string]string{"usr/sbin/web": "demo/1/x86_64/web_1.0_amd64/usr/sbin/web", "usr/share/web/old.txt": "demo/1/x86_64/web_1.0_amd64/usr/share/web/old.txt"}},
		{name: "install web again", do: func() (*Report, error) { return c.Install(ctx, []string{"web"}, Options{}) }, err: "has web already"},
		{name: "install a missing template", do: func() (*Report, error) { return c.Install(ctx, []string{"nope"}, Options{}) }, err: "not installed"},
		{name: "update to web 2.0", do: func() (*Report, error) {
			changeFile(t, c, "etc/web.conf", "port=81\n")
			n.webAt(t, "2.0")
			ups, err := c.Status(ctx, Options{})
			if err != nil || len(ups) != 1 || ups[0] != (Update{Name: "web", From: "1.0", To: "2.0", Template: "web"}) {
				t.Errorf("status %+v %v", ups, err)
			}
			_, rep, err := c.Update(ctx, nil, Options{})
			return rep, err
		}, want: map[string]string{"usr/sbin/web": "demo/1/x86_64/web_2.0_amd64/usr/sbin/web", "usr/share/web/old.txt": "-",
			"usr/share/web/new.txt": "demo/1/x86_64/web_2.0_amd64/usr/share/web/new.txt", "etc/web.conf": "",
			"etc/web.conf.ezfs-new": "demo/1/x86_64/web_2.0_amd64/etc/web.conf"}, kept: []string{"etc/web.conf"}},
		{name: "update of a template it does not have", do: func() (*Report, error) {
			_, rep, err := c.Update(ctx, []string{"nope"}, Options{})
			return rep, err
		}, err: "has no template nope"},
		{name: "remove the OS template", do: func() (*Report, error) { return c.Remove(ctx, []string{tmpltest.OSName}, Options{}) }, err: "cannot be removed"},
		{name: "remove web", do: func() (*Report, error) { return c.Remove(ctx, []string{"web"}, Options{}) },
			want: map[string]string{"usr/sbin/web": "-", "usr/share/web/new.txt": "-", "etc/web.conf": "", "usr/lib/libfoo.so": "demo/1/x86_64/libfoo_2.0_amd64/usr/lib/libfoo.so"},
			kept: []string{"etc/web.conf"}},
		{name: "remove web again", do: func() (*Report, error) { return c.Remove(ctx, []string{"web"}, Options{}) }, err: "has no application template web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tc.do()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			tmpltest.Must(t, err)
			st := state(t, c)
			for p, v := range tc.want {
				e, ok := st[p]
				switch {
				case v == "-" && ok:
					t.Errorf("%s is still there", p)
				case v != "-" && (!ok || e.Value != v):
					t.Errorf("%s: %+v, want link value %q", p, e, v)
				}
			}
			if !slices.Equal(rep.Kept, tc.kept) {
				t.Errorf("kept %v, want %v", rep.Kept, tc.kept)
			}
		})
	}
	if err := Destroy(n.area, n.cfg, "101", true); err == nil {
		t.Error("destroyed a mounted container")
	}
	tmpltest.Must(t, Destroy(n.area, n.cfg, "101", false))
	if _, err := os.Stat(c.Private); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("private area after destroy: %v", err)
	}
}

// An install, update or remove killed at any step of its journal is
// finished by the next command: the container ends as if it had not been
// killed.
func TestJournalCrashPoints(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	defer func(old func(int)) { failpoint.Exit = old }(failpoint.Exit)
	failpoint.Exit = func(int) { panic(crash{}) }
	type op struct {
		name   string
		before func(t *testing.T, c *CT)
		do     func(c *CT) error
	}
	install := func(c *CT) error { _, err := c.Install(ctx, []string{"web"}, Options{}); return err }
	update := func(c *CT) error { _, _, err := c.Update(ctx, nil, Options{}); return err }
	remove := func(c *CT) error { _, err := c.Remove(ctx, []string{"web"}, Options{}); return err }
	installed := func(t *testing.T, c *CT) {
		n.webAt(t, "1.0")
		tmpltest.Must(t, install(c))
		changeFile(t, c, "etc/web.conf", "port=81\n")
		n.webAt(t, "2.0")
	}
	ops := []op{
		{"install", func(t *testing.T, c *CT) { n.webAt(t, "1.0") }, install},
		{"update", installed, update},
		{"remove", installed, remove},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			ref := n.create(t, "ref-"+o.name)
			o.before(t, ref)
			tmpltest.Must(t, o.do(ref))
			want := state(t, ref)
			steps := 0
			for step := 1; ; step++ {
				c := n.create(t, fmt.Sprintf("%s-%d", o.name, step))
				o.before(t, c)
				t.Setenv("EZFS_FAILPOINT", fmt.Sprintf("ct-apply:%d", step))
				crashed := crashes(func() { o.do(c) })
				t.Setenv("EZFS_FAILPOINT", "")
				if !crashed {
					break
				}
				steps++
				if _, err := os.Stat(c.journalPath()); err != nil {
					t.Fatalf("step %d: no journal after the crash: %v", step, err)
				}
				// The next command on the container finishes the work.
				fs, err := Fsck(n.area, n.cfg, c.ID, true)
				tmpltest.Must(t, err)
				if len(fs) != 1 || !fs[0].Fixed {
					t.Errorf("step %d: fsck %+v", step, fs)
				}
				c, err = Open(n.area, n.cfg, c.ID)
				tmpltest.Must(t, err)
				if d := cmp.Diff(want, state(t, c)); d != "" {
					t.Errorf("killed at step %d, then finished (-uninterrupted +recovered):\n%s", step, d)
				}
				tmpltest.Must(t, Destroy(n.area, n.cfg, c.ID, false))
			}
			if steps < 2 {
				t.Errorf("%s crashed at %d steps only", o.name, steps)
			}
		})
	}
}

type crash struct{}

// crashes runs fn and reports whether it stopped at a failpoint.
func crashes(fn func()) (crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	fn()
	return false
}
