package apt

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
	"github.com/ezfs/ezfs/tmpl/repo"
	"golang.org/x/sys/unix"
)

// tgz is a gzipped tar of files (name -> contents; a trailing / makes a
// directory).
func tgz(t *testing.T, files map[string]string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(n, "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		} else if strings.HasSuffix(n, "inst") || strings.HasSuffix(n, "rm") {
			hdr.Mode = 0o755
		}
		tmpltest.Must(t, tw.WriteHeader(hdr))
		tw.Write([]byte(files[n]))
	}
	tmpltest.Must(t, tw.Close())
	tmpltest.Must(t, zw.Close())
	return b.Bytes()
}

// ar is an ar archive of members, in order.
func ar(members ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m[0], 0, 0, 0, "100644", len(m[1]))
		b.WriteString(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

const helloControl = "Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nPriority: required\nDescription: hi\n"

// deb is a .deb of hello with a conffile and a preinst.
func deb(t *testing.T) []byte {
	control := tgz(t, map[string]string{"./": "", "./control": helloControl, "./conffiles": "/etc/hello.conf\n",
		"./preinst": "#!/bin/sh\n", "./md5sums": "x  usr/bin/hello\n", "./other": "ignored"})
	data := tgz(t, map[string]string{"./": "", "./usr/": "", "./usr/bin/": "", "./usr/bin/hello": "hello\n", "./etc/": "", "./etc/hello.conf": "greeting=hi\n"})
	return ar([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.gz", string(control)}, [2]string{"data.tar.gz", string(data)})
}

func TestUnpackDeb(t *testing.T) {
	testenv.RequireRoot(t) // owners
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		err  error
	}{
		{"good", deb(t), nil},
		{"not ar", []byte("plain"), archive.ErrUnsafe},
		{"format 3", ar([2]string{"debian-binary", "3.0\n"}), archive.ErrUnsafe},
		{"no data", ar([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.gz", string(tgz(t, map[string]string{"control": helloControl}))}), archive.ErrUnsafe},
		{"odd compression", ar([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.lz", "x"}), archive.ErrUnsafe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			tmpltest.Must(t, os.MkdirAll(filepath.Join(d, "dst"), 0o755))
			p := filepath.Join(d, "p.deb")
			tmpltest.Must(t, os.WriteFile(p, tc.data, 0o644))
			fd, err := unix.Open(filepath.Join(d, "dst"), unix.O_PATH|unix.O_DIRECTORY, 0)
			tmpltest.Must(t, err)
			defer unix.Close(fd)
			control, entries, err := (Dpkg{}).Unpack(p, fd, filepath.Join(d, "dst"))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if control.Get("Package") != "hello" || len(entries) != 5 {
				t.Errorf("control %v, entries %+v", control, entries)
			}
			kept, _ := os.ReadDir(filepath.Join(d, "dst", repo.MetaDir, "deb"))
			if len(kept) != 4 { // control conffiles md5sums preinst
				t.Errorf("control files kept: %v", kept)
			}
		})
	}
}

// A repository signed with a key of its own, flat, indexed.
type signedRepo struct {
	dir, keyring string
	key          *openpgp.Entity
}

func newSignedRepo(t *testing.T) *signedRepo {
	dir := t.TempDir()
	key, err := openpgp.NewEntity("test", "", "test@example.invalid", nil)
	tmpltest.Must(t, err)
	var pub bytes.Buffer
	tmpltest.Must(t, key.Serialize(&pub))
	r := &signedRepo{dir: filepath.Join(dir, "repo"), keyring: filepath.Join(dir, "key.gpg"), key: key}
	tmpltest.Must(t, os.WriteFile(r.keyring, pub.Bytes(), 0o644))
	tmpltest.Must(t, os.MkdirAll(r.dir, 0o755))
	return r
}

// publish writes Packages, and a Release (as InRelease, or Release with
// Release.gpg) listing its hash.
func (r *signedRepo) publish(t *testing.T, packages string, inline bool) {
	tmpltest.Must(t, os.WriteFile(filepath.Join(r.dir, "Packages"), []byte(packages), 0o644))
	sum := sha256.Sum256([]byte(packages))
	rel := fmt.Sprintf("Origin: test\nSuite: ./\nSHA256:\n %s %d Packages\n", hex.EncodeToString(sum[:]), len(packages))
	for _, f := range []string{"InRelease", "Release", "Release.gpg"} {
		os.Remove(filepath.Join(r.dir, f))
	}
	if inline {
		var b bytes.Buffer
		w, err := clearsign.Encode(&b, r.key.PrivateKey, nil)
		tmpltest.Must(t, err)
		w.Write([]byte(rel))
		tmpltest.Must(t, w.Close())
		tmpltest.Must(t, os.WriteFile(filepath.Join(r.dir, "InRelease"), b.Bytes(), 0o644))
		return
	}
	var sig bytes.Buffer
	tmpltest.Must(t, openpgp.ArmoredDetachSign(&sig, r.key, strings.NewReader(rel), nil))
	tmpltest.Must(t, os.WriteFile(filepath.Join(r.dir, "Release"), []byte(rel), 0o644))
	tmpltest.Must(t, os.WriteFile(filepath.Join(r.dir, "Release.gpg"), sig.Bytes(), 0o644))
}

func TestLoadIndex(t *testing.T) {
	r := newSignedRepo(t)
	packages := helloControl + "Filename: hello_1.0-1_amd64.deb\nSize: 3\nSHA256: " + strings.Repeat("ab", 32) + "\n\n"
	other := newSignedRepo(t) // a key the repository is not signed with
	for _, tc := range []struct {
		name    string
		line    string
		prepare func()
		err     error
		errText string
	}{
		{name: "InRelease", line: "deb [signed-by=" + r.keyring + "] " + r.dir + " ./", prepare: func() { r.publish(t, packages, true) }},
		{name: "Release and Release.gpg", line: "deb [signed-by=" + r.keyring + "] file://" + r.dir + " ./", prepare: func() { r.publish(t, packages, false) }},
		{name: "another key", line: "deb [signed-by=" + other.keyring + "] " + r.dir + " ./", prepare: func() { r.publish(t, packages, true) }, err: ErrSignature},
		{name: "a tampered index", line: "deb [signed-by=" + r.keyring + "] " + r.dir + " ./", prepare: func() {
			r.publish(t, packages, true)
			os.WriteFile(filepath.Join(r.dir, "Packages"), []byte(strings.Replace(packages, "hi", "ho", 1)), 0o644)
		}, errText: "checksum mismatch"},
		{name: "unsigned", line: "deb [signed-by=" + r.keyring + "] " + r.dir + " ./", prepare: func() {
			r.publish(t, packages, false)
			os.Remove(filepath.Join(r.dir, "Release.gpg"))
		}, err: ErrSignature},
		{name: "trusted without a Release", line: "deb [trusted=yes] " + r.dir + " ./", prepare: func() {
			r.publish(t, packages, false)
			os.Remove(filepath.Join(r.dir, "Release"))
		}},
		{name: "a fingerprint for a keyring", line: "deb [signed-by=ABCD] " + r.dir + " ./", prepare: func() { r.publish(t, packages, true) }, errText: "fingerprints are not supported"},
		{name: "another architecture only", line: "deb [arch=arm64] " + r.dir + " ./", prepare: func() {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare()
			srcs, err := (Dpkg{}).ParseSource(tc.line)
			tmpltest.Must(t, err)
			f := &repo.Fetch{Fetcher: repo.DefaultFetcher, PMDir: t.TempDir(), Arch: "amd64", Step: func(string, ...any) {}}
			ix, err := (Dpkg{}).LoadIndex(context.Background(), f, srcs)
			switch {
			case tc.err != nil && !errors.Is(err, tc.err),
				tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)),
				tc.err == nil && tc.errText == "" && err != nil:
				t.Fatalf("err %v, want %v %q", err, tc.err, tc.errText)
			}
			if err != nil || tc.errText != "" {
				return
			}
			want := []string{"hello"}
			if strings.Contains(tc.line, "arm64") {
				want = nil
			}
			if got := (Dpkg{}).Base(ix); !slices.Equal(got, want) {
				t.Errorf("base %v, want %v", got, want)
			}
		})
	}
}

func TestHostSources(t *testing.T) {
	defer func(old string) { HostDir = old }(HostDir)
	HostDir = t.TempDir()
	if _, err := HostSources(); err == nil {
		t.Error("sources from an empty apt directory")
	}
	tmpltest.Must(t, os.MkdirAll(filepath.Join(HostDir, "sources.list.d"), 0o755))
	tmpltest.Must(t, os.WriteFile(filepath.Join(HostDir, "sources.list"), []byte("# comment\ndeb http://deb.example/debian bookworm main\ndeb-src http://deb.example/debian bookworm main\n"), 0o644))
	tmpltest.Must(t, os.WriteFile(filepath.Join(HostDir, "sources.list.d", "x.sources"), []byte("Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main\nArchitectures: amd64\nTrusted: yes\n"), 0o644))
	ss, err := (Dpkg{}).ParseSource("host")
	if err != nil || len(ss) != 2 || ss[1].Options["arch"] != "amd64" || !ss[1].Trusted() {
		t.Fatalf("%+v %v", ss, err)
	}
	tmpltest.Must(t, os.WriteFile(filepath.Join(HostDir, "sources.list.d", "bad.list"), []byte("deb http://x\n"), 0o644))
	if _, err := HostSources(); err == nil {
		t.Error("a bad line accepted")
	}
}

// Register writes what dpkg needs to see the packages as unpacked;
// Unregister takes them out again, and only them.
func TestRegister(t *testing.T) {
	testenv.RequireRoot(t) // link entries are trusted.* attributes
	area := t.TempDir()
	pkgDir := filepath.Join(area, "demo/1/x86_64/hello_1.0-1_amd64")
	for name, data := range map[string]string{"etc/hello.conf": "greeting=hi\n", ".ezfs/deb/conffiles": "/etc/hello.conf\n/etc/missing\n", ".ezfs/deb/preinst": "#!/bin/sh\n", ".ezfs/deb/md5sums": "x\n"} {
		tmpltest.Must(t, os.MkdirAll(filepath.Dir(filepath.Join(pkgDir, name)), 0o755))
		tmpltest.Must(t, os.WriteFile(filepath.Join(pkgDir, name), []byte(data), 0o755))
	}
	mk := func(name, multi string) *repo.Installed {
		c := "Package: " + name + "\nVersion: 1.0-1\nArchitecture: amd64\n" + multi
		p := &repo.Installed{Name: name, Version: "1.0-1", Arch: "amd64", Key: name + "_1.0-1_amd64", Dir: pkgDir,
			Entries: []archive.Entry{{Type: 'd', Path: "etc"}, {Type: 'f', Path: "etc/hello.conf"}}}
		for _, l := range strings.Split(strings.TrimSpace(c), "\n") {
			k, v, _ := strings.Cut(l, ": ")
			p.Control = append(p.Control, struct{ Name, Value string }{k, v})
		}
		return p
	}
	hello, lib := mk("hello", ""), mk("libhello", "Multi-Arch: same\n")
	for _, link := range []bool{true, false} {
		root := t.TempDir()
		fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY, 0)
		tmpltest.Must(t, err)
		tmpltest.Must(t, (Dpkg{}).PrepareRoot(fd))
		unix.Close(fd)
		if l, _ := os.Readlink(filepath.Join(root, "bin")); l != "usr/bin" {
			t.Errorf("bin -> %q", l)
		}
		tmpltest.Must(t, (Dpkg{}).Register(root, area, []*repo.Installed{hello, lib}, link))
		status, _ := os.ReadFile(filepath.Join(root, dpkgAdmin, "status"))
		if !strings.Contains(string(status), "Package: hello\nStatus: install ok unpacked") ||
			!strings.Contains(string(status), "Conffiles:\n /etc/hello.conf ") || !strings.Contains(string(status), "/etc/missing newconffile") {
			t.Errorf("status:\n%s", status)
		}
		for _, f := range []string{"hello.list", "hello.preinst", "hello.md5sums", "libhello:amd64.list"} {
			if _, err := os.Lstat(filepath.Join(root, dpkgAdmin, "info", f)); err != nil {
				t.Errorf("link %v: %v", link, err)
			}
		}
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(filepath.Join(root, dpkgAdmin, "info", "hello.preinst"), linkattr.Name, buf)
		if link != (err == nil) || link && string(buf[:n]) != "demo/1/x86_64/hello_1.0-1_amd64/.ezfs/deb/preinst" {
			t.Errorf("link %v: preinst attribute %q %v", link, buf[:max(n, 0)], err)
		}
		tmpltest.Must(t, (Dpkg{}).Unregister(root, []string{"hello"}))
		status, _ = os.ReadFile(filepath.Join(root, dpkgAdmin, "status"))
		info, _ := os.ReadDir(filepath.Join(root, dpkgAdmin, "info"))
		for _, f := range info {
			if strings.HasPrefix(f.Name(), "hello.") {
				t.Errorf("%s left by unregister", f.Name())
			}
		}
		if strings.Contains(string(status), "Package: hello\n") || !strings.Contains(string(status), "Package: libhello\n") || len(info) != 4 {
			t.Errorf("after unregister: %s %v", status, info)
		}
	}
}
