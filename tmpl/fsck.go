package tmpl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	ezfs "github.com/ezfs/ezfs/fs"
	"golang.org/x/sys/unix"
)

// Finding is one problem fsck saw in a private area.
type Finding struct {
	Path    string `json:"path"`
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
	Fixed   bool   `json:"fixed"`
}

// Fsck checks the private area of container id for what a crash can
// leave: an unfinished operation (journal), staging debris, torn
// copy-ups (link entries holding bytes), link entries whose package is
// gone, script leftovers. With repair it mends them; a mounted container
// is only checked.
func (a *Area) Fsck(cfg *Config, id string, repair bool) ([]Finding, error) {
	var out []Finding
	add := func(path, problem, fix string, fixed bool) {
		out = append(out, Finding{Path: path, Problem: problem, Fix: fix, Fixed: fixed})
	}
	private := cfg.Private(id)
	parent := filepath.Dir(private)
	debris, _ := filepath.Glob(filepath.Join(parent, ".new-"+filepath.Base(private)+"-*"))
	gone, _ := filepath.Glob(filepath.Join(parent, ".destroy-"+filepath.Base(private)+"-*"))
	for _, d := range append(debris, gone...) {
		fixed := repair && removeTree(parent, filepath.Base(d)) == nil
		add(d, "staging left by an interrupted create or destroy", "removed", fixed)
	}
	ct, err := a.OpenCT(cfg, id)
	if err != nil {
		if len(out) > 0 {
			return out, nil
		}
		return nil, err
	}
	for _, f := range []string{".new-" + VEConfFile, filepath.Join("templates", ".new-vzpackages")} {
		p := filepath.Join(private, f)
		if _, err := os.Lstat(p); err == nil {
			fixed := repair && os.Remove(p) == nil
			add(p, "half-written record of an interrupted command", "removed", fixed)
		}
	}
	if _, err := os.Stat(ct.journalPath()); err == nil {
		fixed := false
		if repair {
			unlock, err := ct.lock()
			if err != nil {
				return nil, err
			}
			_, err = ct.recover()
			unlock()
			fixed = err == nil
		}
		add(ct.journalPath(), "an install, update or remove was interrupted", "finished it", fixed)
	}
	lines, _ := loadVZPackages(private)
	byName := map[string]PkgLine{}
	for _, l := range lines {
		byName[l.Name] = l
	}
	st, err := a.Stack(ct.OSTemplate)
	if err != nil {
		return nil, err
	}
	archDir := st.Base.ArchDir()
	for _, l := range lines {
		if _, err := os.Stat(filepath.Join(a.Root, archDir, l.Key(), manifestFile)); err != nil {
			add(filepath.Join(archDir, l.Key()), fmt.Sprintf("package %s %s is listed but not in the template area", l.Name, l.Version),
				"none: reinstall it with ezctl update "+id, false)
		}
	}
	tmpDebris, _ := filepath.Glob(filepath.Join(ct.Root, "tmp", ".ezfs-*"))
	for _, p := range tmpDebris {
		fixed := repair && os.Remove(p) == nil
		add(p, "a template script copied in by an interrupted command", "removed", fixed)
	}
	buf := make([]byte, 4096)
	err = filepath.WalkDir(ct.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		n, err := unix.Lgetxattr(p, ezfs.LinkAttr, buf)
		if err != nil {
			return nil
		}
		value := string(buf[:n])
		rel, _ := filepath.Rel(ct.Root, p)
		if err := ezfs.CheckLinkValue(value); err != nil {
			add(rel, fmt.Sprintf("malformed link entry (%v); it reads as an I/O error", err), "none: remove it, or recreate the container", false)
			return nil
		}
		if info, err := d.Info(); err == nil && info.Size() > 0 {
			fixed := repair && os.Truncate(p, 0) == nil
			add(rel, fmt.Sprintf("a copy-up was interrupted: the link entry holds %d stray bytes", info.Size()), "truncated (the link is intact)", fixed)
		}
		if _, err := os.Lstat(filepath.Join(a.Root, value)); errors.Is(err, os.ErrNotExist) {
			fix, fixed := a.relinkDangling(p, value, archDir, byName, repair)
			add(rel, fmt.Sprintf("link entry to %s, which is gone", value), fix, fixed)
		}
		return nil
	})
	return out, err
}

// relinkDangling points a link entry whose package is gone at the same
// file of the version vzpackages lists, or removes it.
func (a *Area) relinkDangling(p, value, archDir string, byName map[string]PkgLine, repair bool) (string, bool) {
	rest := strings.TrimPrefix(value, archDir+"/")
	key, inner, ok := strings.Cut(rest, "/")
	name, _, _ := strings.Cut(key, "_")
	if l, known := byName[name]; ok && known {
		if now := filepath.Join(archDir, l.Key(), inner); now != value {
			if _, err := os.Stat(filepath.Join(a.Root, now)); err == nil {
				if !repair {
					return "relink to " + now, false
				}
				return "relinked to " + now, unix.Lsetxattr(p, ezfs.LinkAttr, []byte(now), 0) == nil
			}
		}
	}
	if !repair {
		return "remove it (no installed package has the file)", false
	}
	return "removed (no installed package has the file)", os.Remove(p) == nil
}
