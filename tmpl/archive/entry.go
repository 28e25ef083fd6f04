package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/internal/xattrat"
	"golang.org/x/sys/unix"
)

// dirFDs keeps the directories of an extraction open: archives list a
// directory's members together, so most parents are found here. Each
// was opened beneath the root with no symlink on the way, and an archive
// cannot rename, so a kept fd stays right.
type dirFDs struct {
	root        int
	fds         map[string]int
	beforeReset func() // lets work still using the fds finish first
}

func newDirFDs(root int) *dirFDs { return &dirFDs{root: root, fds: map[string]int{}} }

func (d *dirFDs) close() {
	for _, fd := range d.fds {
		unix.Close(fd)
	}
}

// parent returns the directory of p (not to be closed) and p's last
// element, creating missing directories (0755, root).
func (d *dirFDs) parent(p string) (int, string, error) {
	dir, name := path.Split(p)
	if dir == "" {
		return d.root, name, nil
	}
	dir = strings.TrimSuffix(dir, "/")
	if fd, ok := d.fds[dir]; ok {
		return fd, name, nil
	}
	fd, err := atfile.OpenBeneath(d.root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		pfd, pname, perr := d.parent(dir)
		if perr != nil {
			return -1, "", perr
		}
		if merr := unix.Mkdirat(pfd, pname, 0o755); merr != nil && merr != unix.EEXIST {
			return -1, "", merr
		}
		fd, err = atfile.OpenBeneath(d.root, dir, unix.O_PATH|unix.O_DIRECTORY)
	}
	if err != nil {
		return -1, "", fmt.Errorf("%w: parent of %q: %v", ErrUnsafe, p, err)
	}
	if len(d.fds) >= 4096 {
		if d.beforeReset != nil {
			d.beforeReset()
		}
		d.close()
		clear(d.fds)
	}
	d.fds[dir] = fd
	return fd, name, nil
}

// writeEntry creates one member and gives it its metadata through an fd
// of its own: owner first (a chown clears set-id bits), then mode,
// extended attributes and times.
func writeEntry(dirs *dirFDs, e *Entry, r io.Reader, buf []byte, xattrs map[string]string) error {
	dirfd, name, err := dirs.parent(e.Path)
	if err != nil {
		return err
	}
	var fd int
	switch e.Type {
	case 'f':
		mode := uint32(0o600)
		if e.UID == 0 && e.GID == 0 {
			mode = e.Mode
		}
		fd, err = atfile.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, mode)
		if err != nil {
			return err
		}
		if err := copyMember(fd, e, r, buf); err != nil {
			unix.Close(fd)
			return err
		}
	case 'l':
		if err := unix.Symlinkat(e.Link, dirfd, name); err != nil {
			return err
		}
		if err := unix.Fchownat(dirfd, name, e.UID, e.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		for k, v := range xattrs {
			if err := xattrat.Set(dirfd, name, k, []byte(v)); err != nil {
				return fmt.Errorf("set %s: %w", k, err)
			}
		}
		ts := []unix.Timespec{{Sec: e.Mtime}, {Sec: e.Mtime}}
		return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	case 'h':
		tdir, tname, err := dirs.parent(e.Link)
		if err != nil {
			return err
		}
		return unix.Linkat(tdir, tname, dirfd, name, 0)
	default:
		if err := Mknod(dirfd, name, e); err != nil {
			return err
		}
		// Opening a device or FIFO would act on it: metadata by name.
		if err := unix.Fchownat(dirfd, name, e.UID, e.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(dirfd, name, e.Mode, 0); err != nil {
			return err
		}
		ts := []unix.Timespec{{Sec: e.Mtime}, {Sec: e.Mtime}}
		return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	defer unix.Close(fd)
	return setMeta(fd, e, xattrs, e.UID != 0 || e.GID != 0)
}

// setDirMeta gives an extracted directory its metadata; the path is
// opened beneath the root with no symlink on the way.
func setDirMeta(root int, e *Entry, xattrs map[string]string, ownerMode bool) error {
	flags := unix.O_RDONLY | unix.O_DIRECTORY
	if !ownerMode && len(xattrs) == 0 {
		flags = unix.O_PATH | unix.O_DIRECTORY // enough for utimensat
	}
	fd, err := atfile.OpenBeneath(root, e.Path, flags)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsafe, err)
	}
	defer unix.Close(fd)
	return setMeta(fd, e, xattrs, ownerMode)
}

// setMeta sets owner and mode (when asked), attributes and times on fd.
func setMeta(fd int, e *Entry, xattrs map[string]string, ownerMode bool) error {
	if ownerMode {
		if err := unix.Fchown(fd, e.UID, e.GID); err != nil {
			return err
		}
		if err := unix.Fchmod(fd, e.Mode); err != nil {
			return err
		}
	}
	for k, v := range xattrs {
		if err := unix.Fsetxattr(fd, k, []byte(v), 0); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	ts := []unix.Timespec{{Sec: e.Mtime}, {Sec: e.Mtime}}
	return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
}

// copyMember writes a regular file's contents, checking its length and
// computing its SHA-256.
func copyMember(fd int, e *Entry, r io.Reader, buf []byte) error {
	h := sha256.New()
	var n int64
	for {
		m, rerr := r.Read(buf)
		if m > 0 {
			h.Write(buf[:m])
			if _, err := writeFull(fd, buf[:m]); err != nil {
				return err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if rerr == io.ErrUnexpectedEOF {
				return fmt.Errorf("%w: %v", ErrUnsafe, cutShort(e.Path, rerr))
			}
			return rerr
		}
	}
	if n != e.Size {
		return fmt.Errorf("%w: %q holds %d bytes, its header says %d", ErrUnsafe, e.Path, n, e.Size)
	}
	e.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

func writeFull(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Write(fd, b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}
