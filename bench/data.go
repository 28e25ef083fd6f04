package main

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	ezfs "github.com/ezfs/ezfs/fs"
	"golang.org/x/sys/unix"
)

// dataset is the template area the benchmarks read: a real tree nobody
// in this project wrote, plus one large file.
type dataset struct {
	dir      string // the bench work directory
	template string // the template area
	tree     string // the tree, relative to template
	big      string // the large file, relative to template
	source   string // where the tree came from, for the report
	files    int
	bigSize  int64
	bytes    int64  // of the tree's regular files
	small    string // a tarball of many small files
	copyups  int    // files copyup/big-<i>, hard links of one 100 MiB file
}

// copyUpSize is the template file the first-write workload writes to.
const copyUpSize = 100 << 20

const pkgDir = "pkg"

// prepareData copies the source tree into the template area once and
// keeps it for later runs.
func prepareData(dir string, bigSize int64, quick bool) (*dataset, error) {
	src, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("find the Go toolchain tree: %w", err)
	}
	d := &dataset{dir: dir, template: filepath.Join(dir, "template"), bigSize: bigSize,
		source: "Go toolchain tree (go env GOROOT)"}
	root := strings.TrimSpace(string(src))
	d.tree = filepath.Join(pkgDir, "tree")
	if quick {
		root = filepath.Join(root, "src")
		d.tree = filepath.Join(pkgDir, "tree-src")
		d.source = "Go toolchain sources (GOROOT/src)"
	}
	d.big = filepath.Join(pkgDir, fmt.Sprintf("big-%d.bin", bigSize))
	dst := filepath.Join(d.template, d.tree)
	if _, err := os.Stat(dst); err != nil {
		tmp := dst + ".new"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if out, err := exec.Command("cp", "-a", root, tmp).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("copy %s: %v %s", root, err, out)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return nil, err
		}
	}
	if err := makeBigFile(filepath.Join(d.template, d.big), bigSize); err != nil {
		return nil, err
	}
	// One template file per copy-up run: hard links, so the data is
	// written once, but each is its own link entry and overlay file.
	cu := filepath.Join(d.template, pkgDir, "copyup")
	d.copyups = 16
	if err := makeBigFile(filepath.Join(cu, "big"), copyUpSize); err != nil {
		return nil, err
	}
	for i := 0; i < d.copyups; i++ {
		p := filepath.Join(cu, fmt.Sprintf("big-%d", i))
		if _, err := os.Stat(p); err != nil {
			if err := os.Link(filepath.Join(cu, "big"), p); err != nil {
				return nil, err
			}
		}
	}
	err = filepath.WalkDir(dst, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			d.files++
			if info, err := e.Info(); err == nil {
				d.bytes += info.Size()
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	d.small = filepath.Join(dir, filepath.Base(d.tree)+"-small.tar")
	if _, err := os.Stat(d.small); err != nil {
		sub := "src/net"
		if quick {
			sub = "net"
		}
		tmp := d.small + ".new"
		if out, err := exec.Command("tar", "-cf", tmp, "-C", dst, sub).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("tar of small files: %v %s", err, out)
		}
		if err := os.Rename(tmp, d.small); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func makeBigFile(path string, size int64) error {
	if st, err := os.Stat(path); err == nil && st.Size() == size {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".new"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	block := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(block)
	for written := int64(0); written < size; written += int64(len(block)) {
		block[0]++ // no two blocks alike, so nothing dedups or compresses them
		if _, err := f.Write(block[:min(int64(len(block)), size-written)]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// makePrivate builds a container's private tree for the dataset:
// directories and symlinks as they are, every regular file a link entry.
func (d *dataset) makePrivate(priv string) error {
	os.RemoveAll(priv)
	base := filepath.Join(d.template, pkgDir)
	return filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		dst := filepath.Join(priv, rel)
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			if strings.HasSuffix(rel, ".new") {
				return filepath.SkipDir
			}
			return os.MkdirAll(dst, info.Mode().Perm())
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case e.Type().IsRegular():
			if err := os.WriteFile(dst, nil, info.Mode().Perm()); err != nil {
				return err
			}
			return unix.Lsetxattr(dst, ezfs.LinkAttr, []byte(filepath.Join(pkgDir, rel)), 0)
		}
		return nil
	})
}
