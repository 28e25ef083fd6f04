package ct

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/btrfs"
	"github.com/ezfs/ezfs/tmpl/repo"
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
func Fsck(a *tmpl.Area, cfg *tmpl.VZConf, id string, repair bool) ([]Finding, error) {
	var out []Finding
	add := func(path, problem, fix string, fixed bool) {
		out = append(out, Finding{Path: path, Problem: problem, Fix: fix, Fixed: fixed})
	}
	if err := tmpl.CheckCTID(id); err != nil {
		return nil, err
	}
	private := cfg.Private(id)
	parent, base := filepath.Dir(private), filepath.Base(private)
	if names, err := os.ReadDir(parent); err == nil {
		for _, e := range names {
			if !isStagingOf(e.Name(), base) {
				continue
			}
			d := filepath.Join(parent, e.Name())
			fixed := repair && btrfs.RemoveTree(parent, e.Name()) == nil
			add(d, "staging left by an interrupted create or destroy", "removed", fixed)
		}
	}
	ct, err := Open(a, cfg, id)
	if err != nil {
		if len(out) > 0 {
			return out, nil
		}
		return nil, err
	}
	for _, rec := range []string{tmpl.VEConfFile, tmpl.VZPackagesFile} {
		dir := filepath.Join(private, filepath.Dir(rec))
		names, _ := os.ReadDir(dir)
		for _, e := range names {
			if !isHalfWritten(e.Name(), filepath.Base(rec)) {
				continue
			}
			p := filepath.Join(dir, e.Name())
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
	lines, _ := tmpl.LoadVZPackages(private)
	byName := map[string]tmpl.PkgLine{}
	for _, l := range lines {
		byName[l.Name] = l
	}
	st, err := a.Stack(ct.OSTemplate)
	if err != nil {
		return nil, err
	}
	archDir := st.Base.ArchDir()
	for _, l := range lines {
		if _, err := os.Stat(filepath.Join(a.Root, archDir, l.Key(), repo.ManifestFile)); err != nil {
			add(filepath.Join(archDir, l.Key()), fmt.Sprintf("package %s %s is listed but not in the template area", l.Name, l.Version),
				"none: reinstall it with ezctl update "+id, false)
		}
	}
	root, err := atfile.OpenRoot(ct.Root)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	// The container's /tmp is resolved as inside it (a symlink to a host
	// directory leads to that path in the container, never to the host).
	tmpNames, _ := root.ReadDirNames("tmp")
	sort.Strings(tmpNames)
	for _, n := range tmpNames {
		if !strings.HasPrefix(n, ".ezfs-") {
			continue
		}
		fixed := repair && root.Remove("tmp/"+n) == nil
		add(filepath.Join(ct.Root, "tmp", n), "a template script copied in by an interrupted command", "removed", fixed)
	}
	err = atfile.Walk(root.FD(), func(dirfd int, name, rel string, st *unix.Stat_t) error {
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return nil
		}
		value, ok, err := linkattr.GetAt(dirfd, name)
		if !ok {
			return nil
		}
		if err == nil {
			err = linkattr.Check(value)
		}
		if err != nil {
			add(rel, fmt.Sprintf("malformed link entry (%v); it reads as an I/O error", err), "none: remove it, or recreate the container", false)
			return nil
		}
		if st.Size > 0 {
			fixed := repair && truncateEntry(dirfd, name, st) == nil
			add(rel, fmt.Sprintf("a copy-up was interrupted: the link entry holds %d stray bytes", st.Size), "truncated (the link is intact)", fixed)
		}
		if _, err := os.Lstat(filepath.Join(a.Root, value)); errors.Is(err, os.ErrNotExist) {
			fix, fixed := relinkDangling(a, dirfd, name, value, archDir, byName, repair)
			add(rel, fmt.Sprintf("link entry to %s, which is gone", value), fix, fixed)
		}
		return nil
	})
	return out, err
}

// relinkDangling points a link entry whose package is gone at the same
// file of the version vzpackages lists, or removes it.
func relinkDangling(a *tmpl.Area, dirfd int, name, value, archDir string, byName map[string]tmpl.PkgLine, repair bool) (string, bool) {
	rest := strings.TrimPrefix(value, archDir+"/")
	key, inner, ok := strings.Cut(rest, "/")
	pkg, _, _ := strings.Cut(key, "_")
	if l, known := byName[pkg]; ok && known {
		if now := filepath.Join(archDir, l.Key(), inner); now != value {
			if _, err := os.Stat(filepath.Join(a.Root, now)); err == nil {
				if !repair {
					return "relink to " + now, false
				}
				return "relinked to " + now, linkattr.SetAt(dirfd, name, now) == nil
			}
		}
	}
	if !repair {
		return "remove it (no installed package has the file)", false
	}
	return "removed (no installed package has the file)", unix.Unlinkat(dirfd, name, 0) == nil
}

// isStagingOf reports whether name is the staging of an interrupted
// create or destroy of the private area base: ".new-BASE-PID" or
// ".destroy-BASE-PID", exactly (".new-7-9-12345" is container 7-9's,
// not 7's).
func isStagingOf(name, base string) bool {
	for _, kind := range []string{".new-", ".destroy-"} {
		if pid, ok := strings.CutPrefix(name, kind+base+"-"); ok && pid != "" && strings.Trim(pid, "0123456789") == "" {
			return true
		}
	}
	return false
}

// isHalfWritten reports whether name is a new version of the record
// base that a crash left unrenamed: ".new-BASE-PID" (atfile.WriteFile),
// or ".new-BASE" as older versions wrote it.
func isHalfWritten(name, base string) bool {
	if name == ".new-"+base {
		return true
	}
	pid, ok := strings.CutPrefix(name, ".new-"+base+"-")
	return ok && pid != "" && strings.Trim(pid, "0123456789") == ""
}

// truncateEntry empties a link entry that a copy-up left bytes in, if it
// is still that regular file.
func truncateEntry(dirfd int, name string, st *unix.Stat_t) error {
	f, err := atfile.OpenRegular(dirfd, name, unix.O_WRONLY, st)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Truncate(0)
}
