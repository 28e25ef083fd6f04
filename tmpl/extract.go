package tmpl

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/ezfs/ezfs/fs"
	"golang.org/x/sys/unix"
)

// ErrUnsafeArchive marks an archive refused before (or while) anything of
// it is written: traversal, absolute paths, links out of the tree,
// duplicates, forbidden types, sizes past the bound.
var ErrUnsafeArchive = errors.New("unsafe archive")

// extractPolicy says what an archive may hold.
type extractPolicy struct {
	links    bool  // symlinks and hard links
	devices  bool  // character and block devices, FIFOs
	owners   bool  // apply the archive's owners (else root)
	xattrs   bool  // apply extended attributes (PAX SCHILY.xattr.*)
	maxBytes int64 // total of regular file contents
	maxFiles int
	skip     func(name string) bool // entries to read but not write (e.g. .ezfs/control)
	onSkip   func(name string, r io.Reader) error
}

// Entry is one path of an extracted archive, as a manifest records it.
type Entry struct {
	Type   byte   // 'd' dir, 'f' file, 'l' symlink, 'h' hard link, 'c' char dev, 'b' block dev, 'p' fifo
	Mode   uint32 // permission bits and set-id/sticky
	UID    int
	GID    int
	Size   int64
	SHA256 string // regular files
	Path   string // relative, clean, no leading "./"
	Link   string // symlink target, or hard link target path
	Mtime  int64
	Dev    uint64 // devices
}

// cleanMember returns the clean relative path of an archive member or an
// error for one that is absolute or climbs out.
func cleanMember(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute path %q", ErrUnsafeArchive, name)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: NUL in %q", ErrUnsafeArchive, name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: %q climbs out with ..", ErrUnsafeArchive, name)
		}
	}
	p := path.Clean(name)
	if p == "." {
		return "", nil
	}
	return p, nil
}

// symlinkInside reports whether target, read the way a container reads
// it (absolute targets from the package root), stays inside the tree.
func symlinkInside(linkPath, target string) bool {
	if target == "" {
		return false
	}
	if strings.HasPrefix(target, "/") {
		return !strings.HasPrefix(path.Clean(target), "/..")
	}
	depth := strings.Count(path.Dir(linkPath), "/") + 1
	if path.Dir(linkPath) == "." {
		depth = 0
	}
	for _, el := range strings.Split(target, "/") {
		switch el {
		case "..":
			depth--
			if depth < 0 {
				return false
			}
		case ".", "":
		default:
			depth++
		}
	}
	return true
}

// extractTar writes the members of r below the directory dstfd. Every
// path is created relative to dstfd with no symlink followed on the way,
// so a member cannot reach outside through an earlier symlink member.
// It returns the entries it wrote.
func extractTar(r io.Reader, dstfd int, pol extractPolicy) ([]Entry, error) {
	tr := tar.NewReader(r)
	var entries []Entry
	seen := map[string]byte{}
	var total int64
	buf := make([]byte, 1<<20)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return entries, fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
		}
		p, err := cleanMember(hdr.Name)
		if err != nil {
			return entries, err
		}
		if p == "" {
			continue // the archive's root directory
		}
		if pol.skip != nil && pol.skip(p) {
			if pol.onSkip != nil && hdr.Typeflag == tar.TypeReg {
				if err := pol.onSkip(p, io.LimitReader(tr, 1<<20)); err != nil {
					return entries, err
				}
			}
			continue
		}
		if len(entries) >= pol.maxFiles {
			return entries, fmt.Errorf("%w: more than %d members", ErrUnsafeArchive, pol.maxFiles)
		}
		e := Entry{Path: p, Mode: uint32(hdr.Mode) & 07777, Mtime: hdr.ModTime.Unix()}
		if pol.owners {
			e.UID, e.GID = hdr.Uid, hdr.Gid
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			e.Type = 'd'
		case tar.TypeReg, tar.TypeRegA:
			e.Type, e.Size = 'f', hdr.Size
		case tar.TypeSymlink:
			e.Type, e.Link = 'l', hdr.Linkname
		case tar.TypeLink:
			e.Type = 'h'
			if e.Link, err = cleanMember(hdr.Linkname); err != nil || e.Link == "" {
				return entries, fmt.Errorf("%w: hard link %q to %q", ErrUnsafeArchive, p, hdr.Linkname)
			}
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			e.Type = map[byte]byte{tar.TypeChar: 'c', tar.TypeBlock: 'b', tar.TypeFifo: 'p'}[hdr.Typeflag]
			e.Dev = unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		case tar.TypeXGlobalHeader:
			continue
		default:
			return entries, fmt.Errorf("%w: %q has type %q, not a file, directory, link or device", ErrUnsafeArchive, p, hdr.Typeflag)
		}
		if (e.Type == 'l' || e.Type == 'h') && !pol.links {
			return entries, fmt.Errorf("%w: %q is a link; only files and directories belong here", ErrUnsafeArchive, p)
		}
		if (e.Type == 'c' || e.Type == 'b' || e.Type == 'p') && !pol.devices {
			return entries, fmt.Errorf("%w: %q is a device or FIFO; only files and directories belong here", ErrUnsafeArchive, p)
		}
		if e.Type == 'l' && !symlinkInside(p, e.Link) {
			return entries, fmt.Errorf("%w: symlink %q -> %q leads outside the package", ErrUnsafeArchive, p, e.Link)
		}
		if e.Type == 'h' && (seen[e.Link] != 'f') {
			return entries, fmt.Errorf("%w: hard link %q to %q, which is no earlier regular file of the archive", ErrUnsafeArchive, p, e.Link)
		}
		if prev, dup := seen[p]; dup && !(prev == 'd' && e.Type == 'd') {
			return entries, fmt.Errorf("%w: %q appears twice", ErrUnsafeArchive, p)
		}
		if e.Type == 'f' {
			if total+e.Size > pol.maxBytes {
				return entries, fmt.Errorf("%w: contents exceed %d bytes (a decompression bomb?)", ErrUnsafeArchive, pol.maxBytes)
			}
			total += e.Size
		}
		if err := writeEntry(dstfd, &e, tr, buf); err != nil {
			return entries, fmt.Errorf("extract %s: %w", p, err)
		}
		if pol.xattrs && e.Type != 'h' {
			if err := applyXattrs(dstfd, p, hdr.PAXRecords); err != nil {
				return entries, fmt.Errorf("extract %s: %w", p, err)
			}
		}
		if _, dup := seen[p]; !dup {
			entries = append(entries, e)
		}
		seen[p] = e.Type
	}
}

// parentFD opens the parent directory of p below root, creating missing
// directories (mode 0755, owned by root) and following no symlink.
func parentFD(root int, p string) (int, string, error) {
	dir, name := path.Split(p)
	if dir == "" {
		fd, err := unix.Dup(root)
		return fd, name, err
	}
	dir = strings.TrimSuffix(dir, "/")
	fd, err := openBeneath(root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		pfd, pname, err := parentFD(root, dir)
		if err != nil {
			return -1, "", err
		}
		err = unix.Mkdirat(pfd, pname, 0o755)
		unix.Close(pfd)
		if err != nil && err != unix.EEXIST {
			return -1, "", err
		}
		fd, err = openBeneath(root, dir, unix.O_PATH|unix.O_DIRECTORY)
	}
	if err != nil {
		return -1, "", fmt.Errorf("%w: parent of %q: %v", ErrUnsafeArchive, p, err)
	}
	return fd, name, nil
}

func writeEntry(root int, e *Entry, r io.Reader, buf []byte) error {
	dirfd, name, err := parentFD(root, e.Path)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	switch e.Type {
	case 'd':
		if err := unix.Mkdirat(dirfd, name, 0o700); err != nil && err != unix.EEXIST {
			return err
		}
		fd, err := openat(dirfd, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnsafeArchive, err) // a symlink in the way
		}
		defer unix.Close(fd)
		return setMeta(fd, e, true)
	case 'f':
		fd, err := openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
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
				return rerr
			}
		}
		if n != e.Size {
			return fmt.Errorf("%w: %q holds %d bytes, its header says %d", ErrUnsafeArchive, e.Path, n, e.Size)
		}
		e.SHA256 = hex.EncodeToString(h.Sum(nil))
		return setMeta(fd, e, false)
	case 'l':
		if err := unix.Symlinkat(e.Link, dirfd, name); err != nil {
			return err
		}
		return unix.Fchownat(dirfd, name, e.UID, e.GID, unix.AT_SYMLINK_NOFOLLOW)
	case 'h':
		tdir, tname, err := parentFD(root, e.Link)
		if err != nil {
			return err
		}
		defer unix.Close(tdir)
		return unix.Linkat(tdir, tname, dirfd, name, 0)
	default:
		mode := map[byte]uint32{'c': unix.S_IFCHR, 'b': unix.S_IFBLK, 'p': unix.S_IFIFO}[e.Type]
		if err := unix.Mknodat(dirfd, name, mode|0o600, int(e.Dev)); err != nil {
			return err
		}
		fd, err := openat(dirfd, name, unix.O_PATH, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return setMeta(fd, e, true)
	}
}

// setMeta gives an extracted object its owner, mode and mtime; owner
// first, since a chown clears set-id bits.
func setMeta(fd int, e *Entry, opath bool) error {
	if err := unix.Fchownat(fd, "", e.UID, e.GID, unix.AT_EMPTY_PATH); err != nil {
		return err
	}
	p := fmt.Sprintf("/proc/self/fd/%d", fd)
	if err := unix.Chmod(p, e.Mode); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(time.Now().UnixNano()), {Sec: e.Mtime}}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0)
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

// applyXattrs sets the extended attributes an archive member carries. A
// link attribute must be a well-formed link value.
func applyXattrs(root int, p string, records map[string]string) error {
	var fd = -1
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	for k, v := range records {
		name, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok {
			continue
		}
		if name == fs.LinkAttr {
			if err := fs.CheckLinkValue(v); err != nil {
				return fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
			}
		}
		if fd < 0 {
			dirfd, base, err := parentFD(root, p)
			if err != nil {
				return err
			}
			fd, err = openat(dirfd, base, unix.O_PATH, 0)
			unix.Close(dirfd)
			if err != nil {
				return err
			}
		}
		if err := unix.Setxattr(fmt.Sprintf("/proc/self/fd/%d", fd), name, []byte(v), 0); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	return nil
}
