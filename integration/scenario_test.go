package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ezfs/ezfs/fs"
	"github.com/hanwen/go-fuse/v2/posixtest"
	"golang.org/x/sys/unix"
)

// step acts on a mounted container; check asserts on it afterwards.
type (
	step  func(t *testing.T, c *ct)
	check func(t *testing.T, c *ct)
)

func appendTo(path, data string) step {
	return func(t *testing.T, c *ct) {
		f, err := os.OpenFile(filepath.Join(c.mnt, path), os.O_WRONLY|os.O_APPEND, 0)
		must(t, err)
		_, err = f.WriteString(data)
		must(t, err)
		must(t, f.Close())
	}
}

func remount(t *testing.T, c *ct) { c.remount(t) }

func steps(s ...step) step {
	return func(t *testing.T, c *ct) {
		for _, f := range s {
			f(t, c)
		}
	}
}

func reads(path, want string) check {
	return func(t *testing.T, c *ct) {
		if got := readFile(t, filepath.Join(c.mnt, path)); got != want {
			t.Errorf("%s reads %q, want %q", path, got, want)
		}
	}
}

func lowerUnchanged(path, want string) check {
	return func(t *testing.T, c *ct) {
		if got := readFile(t, filepath.Join(c.tmpl, "pkg", path)); got != want {
			t.Errorf("template file %s changed: %q", path, got)
		}
	}
}

func inUpper(path string) check {
	return func(t *testing.T, c *ct) {
		if isLink(t, filepath.Join(c.priv, path)) {
			t.Errorf("%s is still a link entry", path)
		}
	}
}

func stillLink(path string) check {
	return func(t *testing.T, c *ct) {
		if !isLink(t, filepath.Join(c.priv, path)) {
			t.Errorf("%s was copied up", path)
		}
		if st, err := os.Stat(filepath.Join(c.priv, path)); err != nil || st.Size() != 0 {
			t.Errorf("entry %s: %v, size %d", path, err, st.Size())
		}
	}
}

func fails(path string, want error) check {
	return func(t *testing.T, c *ct) {
		if _, err := os.ReadFile(filepath.Join(c.mnt, path)); !errors.Is(err, want) {
			t.Errorf("read %s: %v, want %v", path, err, want)
		}
	}
}

func TestScenarios(t *testing.T) {
	const hosts = "127.0.0.1 localhost\n"
	cases := []struct {
		name         string
		lower, upper files
		links        map[string]string // extra link entries: path -> raw value
		do           step
		want         []check
	}{
		{name: "read through a link equals the template",
			lower: files{"etc/hosts": hosts, "usr/share/doc/big": strings.Repeat("data ", 50000)},
			want:  []check{reads("etc/hosts", hosts), reads("usr/share/doc/big", strings.Repeat("data ", 50000))}},
		{name: "append to a template file copies it up and survives a remount",
			lower: files{"etc/hosts": hosts},
			do:    steps(appendTo("etc/hosts", "10.0.0.2 ct\n"), remount),
			want: []check{reads("etc/hosts", hosts+"10.0.0.2 ct\n"), inUpper("etc/hosts"),
				lowerUnchanged("etc/hosts", hosts)}},
		{name: "chmod chown touch setxattr on a link copy nothing",
			lower: files{"bin/tool": "#!tool\n"},
			do: func(t *testing.T, c *ct) {
				p := filepath.Join(c.mnt, "bin/tool")
				must(t, os.Chmod(p, 0o755))
				must(t, os.Chown(p, 42, 43))
				must(t, unix.UtimesNano(p, []unix.Timespec{{Sec: 7}, {Sec: 8}}))
				must(t, unix.Setxattr(p, "user.x", []byte("1"), 0))
			},
			want: []check{stillLink("bin/tool"), lowerUnchanged("bin/tool", "#!tool\n"),
				func(t *testing.T, c *ct) {
					var st unix.Stat_t
					must(t, unix.Stat(filepath.Join(c.mnt, "bin/tool"), &st))
					if st.Mode&07777 != 0o755 || st.Uid != 42 || st.Mtim.Sec != 8 || st.Size != 7 {
						t.Errorf("stat: mode %o uid %d mtime %d size %d", st.Mode, st.Uid, st.Mtim.Sec, st.Size)
					}
				}}},
		{name: "hard links stay hard links through copy-up",
			lower: files{"a": "A"},
			do: steps(func(t *testing.T, c *ct) {
				c.umount(t)
				must(t, os.Link(filepath.Join(c.priv, "a"), filepath.Join(c.priv, "b")))
				c.mount(t)
				readFile(t, filepath.Join(c.mnt, "b"))
			}, appendTo("a", "+")),
			want: []check{reads("b", "A+"), lowerUnchanged("a", "A"), func(t *testing.T, c *ct) {
				var a, b unix.Stat_t
				must(t, unix.Stat(filepath.Join(c.mnt, "a"), &a))
				must(t, unix.Stat(filepath.Join(c.mnt, "b"), &b))
				if a.Ino != b.Ino || a.Nlink != 2 {
					t.Errorf("a ino %d nlink %d, b ino %d", a.Ino, a.Nlink, b.Ino)
				}
			}}},
		{name: "rename and unlink of links",
			lower: files{"a": "A", "b": "B"},
			do: func(t *testing.T, c *ct) {
				must(t, os.Rename(filepath.Join(c.mnt, "a"), filepath.Join(c.mnt, "dir-c")))
				must(t, os.Remove(filepath.Join(c.mnt, "b")))
			},
			want: []check{reads("dir-c", "A"), fails("b", os.ErrNotExist), lowerUnchanged("a", "A"), lowerUnchanged("b", "B")}},
		{name: "a container symlink to a host path is not followed by the daemon",
			do: func(t *testing.T, c *ct) {
				host := filepath.Join(filepath.Dir(c.tmpl), "hostfile")
				writeFile(t, host, "host")
				must(t, unix.Setxattr(host, "user.secret", []byte("s"), 0))
				must(t, os.Symlink(host, filepath.Join(c.mnt, "evil")))
				must(t, unix.Lchown(filepath.Join(c.mnt, "evil"), 99, 99))
				if _, err := unix.Lgetxattr(filepath.Join(c.mnt, "evil"), "user.secret", make([]byte, 8)); err == nil {
					t.Error("lgetxattr through the container symlink reached the host file")
				}
				var st unix.Stat_t
				must(t, unix.Stat(host, &st))
				if st.Uid == 99 {
					t.Error("lchown of the container symlink changed the host file")
				}
			}},
		{name: "forged link attribute from inside is refused",
			upper: files{"own": "mine"},
			do: func(t *testing.T, c *ct) {
				err := unix.Setxattr(filepath.Join(c.mnt, "own"), fs.LinkAttr, []byte("../../etc/shadow"), 0)
				if err != unix.EPERM {
					t.Errorf("setxattr %s: %v, want EPERM", fs.LinkAttr, err)
				}
			},
			want: []check{reads("own", "mine")}},
		{name: "escaping and malformed link values are EIO",
			links: map[string]string{"up": "../../../etc/passwd", "abs": "/etc/passwd", "empty": "", "dots": "pkg/../pkg/x"},
			want:  []check{fails("up", syscall.EIO), fails("abs", syscall.EIO), fails("empty", syscall.EIO), fails("dots", syscall.EIO)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCT(t, tc.lower, tc.upper)
			for p, v := range tc.links {
				makeLink(t, c.priv, p, v)
			}
			c.mount(t)
			if tc.do != nil {
				tc.do(t, c)
			}
			for _, chk := range tc.want {
				chk(t, c)
			}
		})
	}
}

// posixKnown: go-fuse POSIX tests that cannot pass, with the reason.
var posixKnown = map[string]string{
	"FcntlFlockLocksFile": "expects a second open by the same process to be refused a POSIX lock; " +
		"POSIX locks belong to the process, so a local filesystem (ext4) grants it too",
}

func TestPosixSuite(t *testing.T) {
	for name, fn := range posixtest.All {
		t.Run(name, func(t *testing.T) {
			if why, ok := posixKnown[name]; ok {
				t.Skip(why)
			}
			c := newCT(t, nil, nil)
			c.mount(t)
			fn(t, c.mnt)
		})
	}
}

// A binary linked from the template runs from the mount: the kernel
// execs it and the loader mmaps it, both through passthrough.
func TestExecAndMmapFromTemplate(t *testing.T) {
	bin, err := exec.LookPath("true")
	must(t, err)
	data, err := os.ReadFile(bin)
	must(t, err)
	c := newCT(t, files{"bin/true": string(data)}, nil)
	must(t, os.Chmod(filepath.Join(c.priv, "bin/true"), 0o755))
	c.mount(t)
	if out, err := exec.Command(filepath.Join(c.mnt, "bin/true")).CombinedOutput(); err != nil {
		t.Fatalf("exec from the mount: %v %s", err, out)
	}
	f, err := os.Open(filepath.Join(c.mnt, "bin/true"))
	must(t, err)
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, len(data), unix.PROT_READ, unix.MAP_SHARED)
	must(t, err)
	defer unix.Munmap(m)
	if string(m) != string(data) {
		t.Error("mmap of a link differs from the template file")
	}
	if !isLink(t, filepath.Join(c.priv, "bin/true")) {
		t.Error("exec copied the link up")
	}
}
