package ct

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/internal/failpoint"
	"github.com/ezfs/ezfs/tmpl/internal/tree"
	"golang.org/x/sys/unix"
)

// A journal is how a container operation survives being killed: the
// whole plan is written (and synced) before the first change, every step
// is idempotent, and the records (vzpackages, ve.conf) are replaced last.
// The next command on the container applies a journal it finds, so an
// interrupted operation is always finished, and readers of the records
// never see a half state.

const journalFile = "templates/.journal"

type journal struct {
	Op       string         `json:"op"`
	Add      []planEntry    `json:"add,omitempty"`    // create, unless present
	Relink   []relink       `json:"relink,omitempty"` // set a new link value where the old one is
	Remove   []relink       `json:"remove,omitempty"` // delete where the old value is (New unused)
	Packages []tmpl.PkgLine `json:"packages"`         // the vzpackages after the operation
	Apps     []string       `json:"apps"`             // TEMPLATES after the operation
}

// planEntry is one path a package brings into a container.
type planEntry struct {
	archive.Entry
	Value string `json:"value,omitempty"` // link value, for regular files
}

type relink struct {
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new,omitempty"`
}

// Report is what an operation tells the user about files it did not
// touch because the container changed them.
type Report struct {
	Kept    []string // container-changed files left as they were
	New     []string // FILE.ezfs-new placed beside them
	Changed []string // every path changed, for invalidation
}

func (ct *CT) journalPath() string { return filepath.Join(ct.Private, journalFile) }

func (ct *CT) writeJournal(j *journal) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return atfile.WriteFile(ct.journalPath(), data, 0o644)
}

// recover finishes an operation a crash interrupted.
func (ct *CT) recover() (*Report, error) {
	data, err := os.ReadFile(ct.journalPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("container %s: unreadable journal %s (%v); move it away and run ezctl fsck %s", ct.ID, ct.journalPath(), err, ct.ID)
	}
	return ct.apply(&j)
}

// apply carries out a journal and removes it.
func (ct *CT) apply(j *journal) (*Report, error) {
	root, err := unix.Open(ct.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	rep := &Report{}
	step := 0
	next := func() { step++; failpoint.Hit("ct-apply", step) }
	for _, r := range j.Remove {
		next()
		if ok, err := ct.linkIs(root, r.Path, r.Old); err != nil {
			return nil, err
		} else if ok {
			if err := ct.unlinkAt(root, r.Path); err != nil {
				return nil, err
			}
			rep.Changed = append(rep.Changed, r.Path)
		} else if exists(root, r.Path) {
			rep.Kept = append(rep.Kept, r.Path)
		}
	}
	for _, r := range j.Relink {
		next()
		ok, err := ct.linkIs(root, r.Path, r.Old)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := ct.setLink(root, r.Path, r.New); err != nil {
				return nil, err
			}
			rep.Changed = append(rep.Changed, r.Path)
			continue
		}
		if done, _ := ct.linkIs(root, r.Path, r.New); done {
			continue
		}
		// Changed by the container: keep it, put the new version beside.
		rep.Kept = append(rep.Kept, r.Path)
		side := planEntry{Entry: archive.Entry{Type: 'f', Mode: 0o644, Path: r.Path + ".ezfs-new"}, Value: r.New}
		if err := ct.add(root, side, rep); err != nil {
			return nil, err
		}
		rep.New = append(rep.New, side.Path)
	}
	for _, e := range j.Add {
		next()
		if err := ct.add(root, e, rep); err != nil {
			return nil, err
		}
	}
	if err := tmpl.SaveVZPackages(ct.Private, j.Packages); err != nil {
		return nil, err
	}
	if err := ct.saveApps(j.Apps); err != nil {
		return nil, err
	}
	if err := os.Remove(ct.journalPath()); err != nil {
		return nil, err
	}
	return rep, nil
}

func exists(root int, p string) bool {
	var st unix.Stat_t
	return unix.Fstatat(root, p, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// linkIs reports whether path is a link entry with the given value.
func (ct *CT) linkIs(root int, p, value string) (bool, error) {
	dirfd, name, err := ct.parent(root, p, false)
	if err != nil {
		return false, nil
	}
	defer unix.Close(dirfd)
	got, ok, err := linkattr.GetAt(dirfd, name)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return ok && got == value, nil
}

// isLinkEntry reports whether path is a link entry, to whatever file.
func (ct *CT) isLinkEntry(root int, p string) bool {
	dirfd, name, err := ct.parent(root, p, false)
	if err != nil {
		return false
	}
	defer unix.Close(dirfd)
	ok, _ := linkattr.HasAt(dirfd, name)
	return ok
}

func (ct *CT) setLink(root int, p, value string) error {
	dirfd, name, err := ct.parent(root, p, false)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	return linkattr.SetAt(dirfd, name, value)
}

func (ct *CT) unlinkAt(root int, p string) error {
	dirfd, name, err := ct.parent(root, p, false)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := unix.Unlinkat(dirfd, name, 0); err != nil && err != unix.ENOENT {
		return err
	}
	return nil
}

// parent opens the directory of p inside the container's tree.
func (ct *CT) parent(root int, p string, create bool) (int, string, error) {
	return tree.ParentInRoot(root, p, create)
}

// add creates one planned entry unless the container has something
// there: its own file is kept and the package's placed beside it as
// FILE.ezfs-new.
func (ct *CT) add(root int, e planEntry, rep *Report) error {
	dirfd, name, err := ct.parent(root, e.Path, true)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		switch {
		case e.Type == 'd' || st.Mode&unix.S_IFMT == unix.S_IFDIR:
			return nil
		case e.Type == 'f':
			if ok, _ := ct.linkIs(root, e.Path, e.Value); ok {
				return nil // added before a crash
			}
			if ct.isLinkEntry(root, e.Path) {
				// Another package's untouched file: the later package
				// wins, as when a cache is laid out.
				rep.Changed = append(rep.Changed, e.Path)
				return ct.setLink(root, e.Path, e.Value)
			}
			if strings.HasSuffix(e.Path, ".ezfs-new") {
				ct.unlinkAt(root, e.Path) // an older .ezfs-new
			} else {
				rep.Kept = append(rep.Kept, e.Path)
				side := e
				side.Path += ".ezfs-new"
				rep.New = append(rep.New, side.Path)
				return ct.add(root, side, rep)
			}
		default:
			return nil // the container's symlink or device stays
		}
	}
	if err := tree.Create(root, dirfd, name, &e.Entry, e.Value); err != nil {
		if e.Type == 'h' {
			rep.Changed = append(rep.Changed, e.Path)
		}
		return err
	}
	rep.Changed = append(rep.Changed, e.Path)
	if e.Type == 'h' {
		return nil
	}
	return tree.Meta(dirfd, name, &e.Entry)
}
