package tmpl

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// Bounds for a template archive: configs and scripts, not packages.
const (
	maxTemplateArchiveBytes = 256 << 20
	maxTemplateArchiveFiles = 100000
)

// InstallTemplates installs every template found in src: a directory laid
// out like the template area (<os>/<ver>/<arch>/config/...) or a .tar.gz
// of one. Every template is checked before anything is written; each is
// then built beside its place and renamed in, and a failure puts back
// what the call had replaced.
func (a *Area) InstallTemplates(src string) (_ []*Template, err error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("template install: %w", err)
	}
	if err := os.MkdirAll(a.Root, AreaMode); err != nil {
		return nil, err
	}
	if err := a.Seal(); err != nil {
		return nil, err
	}
	dir := src
	if !st.IsDir() {
		tmp, err := os.MkdirTemp(a.Root, ".new-install-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if err := extractTemplateArchive(src, tmp); err != nil {
			return nil, fmt.Errorf("template install %s: %w", src, err)
		}
		dir = tmp
	}
	rels, err := findConfigDirs(dir)
	if err != nil {
		return nil, err
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("template install: %s holds no template: want <os>/<ver>/<arch>/config/os/<set>/packages or .../config/app/<app>/<set>/packages", src)
	}
	var incoming []*Template
	for _, rel := range rels {
		id, err := ParseConfigDir(rel)
		if err != nil {
			return nil, fmt.Errorf("template install: %w", err)
		}
		t, err := LoadTemplate(filepath.Join(dir, rel), id)
		if err != nil {
			return nil, fmt.Errorf("template install: %w", err)
		}
		incoming = append(incoming, t)
	}
	if err := a.checkBases(incoming); err != nil {
		return nil, err
	}
	// Bases first, so that a reader never sees a set without its base.
	sort.SliceStable(incoming, func(i, j int) bool { return incoming[i].IsOS() && !incoming[j].IsOS() })

	type done struct{ final, old string }
	var committed []done
	var madeDirs []string // parents this call created, to remove again on failure
	defer func() {
		if err == nil {
			for _, d := range committed {
				os.RemoveAll(d.old)
			}
			return
		}
		for i := len(committed) - 1; i >= 0; i-- {
			d := committed[i]
			os.RemoveAll(d.final)
			if d.old != "" {
				os.Rename(d.old, d.final)
			}
		}
		for i := len(madeDirs) - 1; i >= 0; i-- {
			os.Remove(madeDirs[i]) // only if empty
		}
	}()
	var installed []*Template
	for _, t := range incoming {
		final := filepath.Join(a.Root, t.ConfigDir())
		made, err := mkdirAll(filepath.Dir(final))
		madeDirs = append(madeDirs, made...)
		if err != nil {
			return nil, err
		}
		cleanStale(filepath.Dir(final))
		tmp := tempName(final, "new")
		if err := copyTree(t.Dir, tmp); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("template install %s: %w", t.FullName(), err)
		}
		d := done{final: final}
		if _, err := os.Lstat(final); err == nil {
			d.old = tempName(final, "old")
			if err := os.Rename(final, d.old); err != nil {
				os.RemoveAll(tmp)
				return nil, err
			}
		}
		if err := os.Rename(tmp, final); err != nil {
			os.RemoveAll(tmp)
			if d.old != "" {
				os.Rename(d.old, final)
			}
			return nil, err
		}
		committed = append(committed, d)
		nt, err := LoadTemplate(final, t.TemplateID)
		if err != nil {
			return nil, err
		}
		installed = append(installed, nt)
	}
	return installed, nil
}

// checkBases makes sure every set and application template has its base
// OS template, among the incoming ones or installed already.
func (a *Area) checkBases(incoming []*Template) error {
	have := map[string]bool{}
	for _, t := range incoming {
		if t.Kind() == OSBase {
			have[t.Name()] = true
		}
	}
	for _, t := range incoming {
		if t.Kind() == OSBase || have[t.Base().Name()] {
			continue
		}
		if _, err := a.Find(t.Base().Name()); err != nil {
			return fmt.Errorf("template install: %s (%s) needs its base OS template %s, which is neither in the archive nor installed; install it first or add it",
				t.FullName(), t.Kind(), t.Base().Name())
		}
		have[t.Base().Name()] = true
	}
	return nil
}

func extractTemplateArchive(src, dst string) error {
	if !strings.HasSuffix(src, ".tar.gz") && !strings.HasSuffix(src, ".tgz") {
		return fmt.Errorf("want a directory or a .tar.gz of one")
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%w: %v", archive.ErrUnsafe, err)
	}
	fd, err := unix.Open(dst, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = archive.Extract(zr, fd, archive.Policy{MaxBytes: maxTemplateArchiveBytes, MaxFiles: maxTemplateArchiveFiles})
	return err
}

// copyTree copies a config directory: directories and regular files,
// keeping modes (scripts stay executable).
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			if err := out.Sync(); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
		return fmt.Errorf("%s: only files and directories belong in a template config", p)
	})
}

// mkdirAll is os.MkdirAll that returns the directories it made, parents
// first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append([]string{d}, missing...)
	}
	var made []string
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
			return made, err
		}
		made = append(made, d)
	}
	return made, nil
}
