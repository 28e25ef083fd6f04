package ctl

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/mountd"
)

// The commands print to os.Stdout: ezctl swaps it for a pipe while one
// runs. Tests of this package do not run in parallel.
var stdoutMu sync.Mutex

// ezctl runs the command line in this process and returns what it
// printed.
func ezctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	err = Run(append([]string{"ezctl"}, args...))
	os.Stdout = saved
	w.Close()
	s := <-out
	r.Close()
	return s, err
}

// node is a --vz tree, a tar repository, a template source and a
// socket for mountd, all below one temporary directory.
type node struct {
	vz, repo, src, sock string
}

func newNode(t *testing.T) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{vz: filepath.Join(dir, "vz"), repo: filepath.Join(dir, "repo"), src: filepath.Join(dir, "src"),
		sock: filepath.Join(dir, "run", "mountd.sock")}
	t.Cleanup(func() {
		// Whatever a failed test left mounted below dir goes first.
		ms, _ := mountinfo.All()
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.HasPrefix(ms[i].Point, dir+"/") {
				testenv.Unmount(t, ms[i].Point)
			}
		}
	})
	return n
}

func (n *node) args(args []string) []string {
	return append([]string{"--vz", n.vz, "--socket", n.sock}, args...)
}

func (n *node) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, err := ezctl(t, n.args(args)...)
	if err != nil {
		t.Fatalf("ezctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (n *node) fails(t *testing.T, want string, args ...string) {
	t.Helper()
	out, err := ezctl(t, n.args(args)...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ezctl %s: %v, want an error saying %q\n%s", strings.Join(args, " "), err, want, out)
	}
}

// startMountd serves a mount daemon on the node's socket in this
// process until the test ends.
func (n *node) startMountd(t *testing.T) {
	t.Helper()
	d := mountd.New(mountd.Options{Socket: n.sock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mountd: %v", err)
		}
	})
	cl := mountd.NewClient(n.sock)
	defer cl.Close()
	waitFor(t, "mountd to answer", func() bool {
		select {
		case err := <-done:
			t.Fatalf("mountd: %v", err)
		default:
		}
		return cl.Alive()
	})
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tarPkg is a tar package of the test repository.
type tarPkg struct {
	name, version, depends string
	files                  map[string]string
}

// demo writes a repository of three packages and an OS template with an
// application template for it into the node's source directory.
func (n *node) demo(t *testing.T) {
	t.Helper()
	for _, p := range []tarPkg{
		{name: "base-files", version: "1.0", files: map[string]string{"etc/os-release": "NAME=demo\n", "etc/hostname": "demo\n"}},
		{name: "tool", version: "1.5", depends: "base-files", files: map[string]string{"usr/bin/tool": "#!/bin/sh\necho tool\n"}},
		{name: "web", version: "1.0", files: map[string]string{"usr/sbin/web": "web server\n", "etc/web.conf": "port=80\n"}},
	} {
		writePackage(t, n.repo, p)
	}
	base := filepath.Join(n.src, "demo/1/x86_64/config")
	writeFiles(t, filepath.Join(base, "os/default"), map[string]string{
		"packages": "base-files\ntool\n", "package_manager": "tar\n", "repositories": n.repo + "\n",
		"summary": "Demo OS 1\n", "description": "A small OS for tests.\n", "distribution": "demo\n",
	})
	writeFiles(t, filepath.Join(base, "app/web/default"), map[string]string{"packages": "web\n", "summary": "A web server\n"})
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writePackage(t *testing.T, dir string, p tarPkg) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name, data string, mode int64) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nDescription: test package %s\n", p.name, p.version, p.name)
	if p.depends != "" {
		control += "Depends: " + p.depends + "\n"
	}
	add(".ezfs/control", control, 0o644)
	var paths []string
	dirs := map[string]bool{}
	for fp := range p.files {
		paths = append(paths, fp)
		for d := filepath.Dir(fp); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	sort.Strings(paths)
	for _, d := range ds {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for _, fp := range paths {
		add(fp, p.files[fp], 0o755)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	writeFiles(t, dir, map[string]string{fmt.Sprintf("%s_%s_amd64.tar.gz", p.name, p.version): buf.String()})
}
