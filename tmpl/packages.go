package tmpl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/btrfs"
	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/internal/dirs"
	"github.com/ezfs/ezfs/tmpl/repo"
	"golang.org/x/sys/unix"
)

// downloadWorkers is how many packages download at once.
const downloadWorkers = 4

// ensurePackages makes sure every package is installed in the area,
// downloading and unpacking those that are not. It returns the installed
// packages, in the given order, and the directories it created (for a
// caller to remove if its larger operation fails).
func (j *job) ensurePackages(ctx context.Context, m Manager, pkgs []*repo.Package) ([]*repo.Installed, []string, error) {
	var missing []*repo.Package
	for _, p := range pkgs {
		if err := repo.CheckElement(p.Key()); err != nil {
			return nil, nil, fmt.Errorf("package %s: %w", p, err)
		}
		if _, err := os.Stat(filepath.Join(j.archDir, p.Key(), repo.ManifestFile)); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		cleanStale(j.archDir)
		if err := j.download(ctx, missing); err != nil {
			return nil, nil, err
		}
	}
	// Every package is unpacked beside its place, the filesystem synced
	// once, and then each renamed in: a package directory in place is
	// whole and on disk, and one sync costs less than a sync per file.
	var staged []string
	defer func() {
		for _, tmp := range staged {
			if tmp != "" { // renamed in
				os.RemoveAll(tmp)
			}
		}
	}()
	bar := j.rep.Bar("unpacking", int64(len(missing)), false)
	for _, p := range missing {
		tmp, err := j.unpack(m, p)
		if err != nil {
			bar.Done()
			return nil, nil, err
		}
		staged = append(staged, tmp)
		bar.Add(1)
	}
	bar.Done()
	var created []string
	if len(staged) > 0 {
		if err := dirs.SyncFS(j.archDir); err != nil {
			return nil, nil, fmt.Errorf("sync the template area: %w", err)
		}
	}
	for i, p := range missing {
		final := filepath.Join(j.archDir, p.Key())
		if err := os.Rename(staged[i], final); err != nil {
			for _, d := range created {
				os.RemoveAll(d)
			}
			if errors.Is(err, os.ErrExist) || errors.Is(err, unix.ENOTEMPTY) {
				return nil, nil, fmt.Errorf("package directory %s exists already; installed package files are never changed in place", final)
			}
			return nil, nil, err
		}
		staged[i] = ""
		created = append(created, final)
	}
	if len(created) > 0 {
		dirs.Sync(j.archDir)
	}
	out := make([]*repo.Installed, 0, len(pkgs))
	for _, p := range pkgs {
		ip, err := repo.LoadInstalled(filepath.Join(j.archDir, p.Key()))
		if err != nil {
			return nil, created, err
		}
		out = append(out, ip)
	}
	return out, created, nil
}

func (j *job) downloadPath(p *repo.Package) string {
	return filepath.Join(j.pmDir, "downloads", path.Base(p.Filename))
}

// download fetches packages into pm/downloads, several at once, each
// checked against the index before it is kept.
func (j *job) download(ctx context.Context, pkgs []*repo.Package) error {
	var total int64
	for _, p := range pkgs {
		if p.Filename == "" || p.SHA256 == "" {
			return fmt.Errorf("package %s: the index gives no Filename or SHA256; nothing unverified is installed", p)
		}
		total += p.Size
	}
	bar := j.rep.Bar(fmt.Sprintf("downloading %d packages", len(pkgs)), total, true)
	defer bar.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan *repo.Package)
	for range downloadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				err := j.fetch.Download(ctx, p.Source, p.Filename, j.downloadPath(p), p.Size, p.SHA256, bar.Add)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("package %s from %s: %w", p, p.Source.URI, err)
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range pkgs {
		select {
		case next <- p:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return firstErr
}

// unpack unpacks one downloaded package beside its place, checks it and
// gives it its manifest; it returns the directory, which the caller
// renames into place.
func (j *job) unpack(m Manager, p *repo.Package) (string, error) {
	// The key is one path element (names, versions and architectures
	// are checked where they are read); checked again here, as it is
	// what keeps the package below the area.
	key := p.Key()
	if err := repo.CheckElement(key); err != nil {
		return "", fmt.Errorf("package %s: %w", p, err)
	}
	archfd, err := unix.Open(j.archDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(archfd)
	name := fmt.Sprintf(".new-%s-%d", key, os.Getpid())
	tmp := filepath.Join(j.archDir, name)
	btrfs.RemoveTree(j.archDir, name)
	if err := unix.Mkdirat(archfd, name, 0o755); err != nil {
		return "", &os.PathError{Op: "mkdir", Path: tmp, Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			btrfs.RemoveTree(j.archDir, name)
		}
	}()
	fd, err := unix.Openat(archfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	control, entries, err := m.Unpack(j.downloadPath(p), fd, tmp)
	if err != nil {
		return "", fmt.Errorf("unpack %s: %w", p, err)
	}
	for _, f := range []string{"Package", "Version", "Architecture"} {
		if control.Get(f) != p.Stanza.Get(f) {
			return "", fmt.Errorf("unpack %s: its control says %s %q, the index %q", p, f, control.Get(f), p.Stanza.Get(f))
		}
	}
	var cbuf, mbuf bytes.Buffer
	if err := deb822.Write(&cbuf, control); err != nil {
		return "", err
	}
	if err := archive.WriteManifest(&mbuf, entries); err != nil {
		return "", err
	}
	// .ezfs is never written by the archive (its members there are
	// skipped); the records are made new, beneath the package's fd.
	if err := unix.Mkdirat(fd, repo.MetaDir, 0o755); err != nil && err != unix.EEXIST {
		return "", &os.PathError{Op: "mkdir", Path: filepath.Join(tmp, repo.MetaDir), Err: err}
	}
	for _, rec := range []struct {
		name string
		data []byte
	}{{repo.ControlFile, cbuf.Bytes()}, {repo.ManifestFile, mbuf.Bytes()}} {
		// The caller syncs the filesystem before renaming tmp into place.
		if err := createAt(fd, rec.name, rec.data, 0o644); err != nil {
			return "", &os.PathError{Op: "write", Path: filepath.Join(tmp, rec.name), Err: err}
		}
	}
	ok = true
	return tmp, nil
}

// createAt writes a new file beneath dirfd, through no symlink.
func createAt(dirfd int, rel string, data []byte, mode uint32) error {
	how := unix.OpenHow{Flags: unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC, Mode: uint64(mode),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(dirfd, rel, &how)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), rel)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
