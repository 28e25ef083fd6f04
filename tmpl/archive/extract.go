package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ezfs/ezfs/internal/linkattr"
	"golang.org/x/sys/unix"
)

// ErrUnsafe marks an archive refused before (or while) anything of
// it is written: traversal, absolute paths, links out of the tree,
// duplicates, forbidden types, sizes past the bound.
var ErrUnsafe = errors.New("unsafe archive")

// Policy says what an archive may hold.
type Policy struct {
	Links    bool  // symlinks and hard links
	Devices  bool  // character and block devices
	FIFOs    bool  // named pipes
	Owners   bool  // apply the archive's owners (else root)
	Xattrs   bool  // apply extended attributes (PAX SCHILY.xattr.*)
	MaxBytes int64 // total of regular file contents
	MaxFiles int
	Parallel bool                   // create empty files (link entries) on worker threads
	Skip     func(name string) bool // entries to read but not write (e.g. .ezfs/control)
	OnSkip   func(name string, r io.Reader) error
	Progress func(dir string) // called every few thousand members with the last one's directory
}

// Bounds for one package archive.
const (
	MaxPackageBytes = 16 << 30
	MaxPackageFiles = 1 << 20
)

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

// CleanMember returns the clean relative path of an archive member or an
// error for one that is absolute or climbs out.
func CleanMember(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute path %q", ErrUnsafe, name)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: NUL in %q", ErrUnsafe, name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			//lint:ignore ST1005 ".." is the path element, not punctuation
			return "", fmt.Errorf("%w: %q climbs out with ..", ErrUnsafe, name)
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

// Extract writes the members of r below the directory dstfd. Every
// path is created relative to dstfd with no symlink followed on the way,
// so a member cannot reach outside through an earlier symlink member.
// It returns the entries it wrote.
func Extract(r io.Reader, dstfd int, pol Policy) ([]Entry, error) {
	var ms members = directMembers{tar.NewReader(r)}
	if pol.Parallel {
		ms = newAheadMembers(tar.NewReader(r))
	}
	defer ms.close()
	dirs := newDirFDs(dstfd)
	defer dirs.close()
	var pool *createPool
	if pol.Parallel {
		pool = newCreatePool()
		defer pool.stop()
		dirs.beforeReset = func() { pool.wait() }
	}
	// Members are created with their own modes; a chown or chmod more
	// is made only where the owner is not root.
	defer unix.Umask(unix.Umask(0))
	var entries []Entry
	seen := map[string]byte{}
	var total int64
	buf := make([]byte, 1<<20)
	// A directory's metadata is set once its members are in: creating
	// them would change its times again.
	type dirMeta struct {
		e      Entry
		xattrs map[string]string
		made   bool // created here with its final mode and owner: only times are left
	}
	var dirsDone []dirMeta
	for {
		hdr, body, err := ms.next()
		if err == io.EOF {
			if pool != nil {
				if err := pool.wait(); err != nil {
					return entries, err
				}
			}
			err := parallelDo(len(dirsDone), pol.Parallel, func(i int) error {
				dm := &dirsDone[i]
				if err := setDirMeta(dstfd, &dm.e, dm.xattrs, !dm.made); err != nil {
					return fmt.Errorf("extract %s: %w", dm.e.Path, err)
				}
				return nil
			})
			return entries, err
		}
		if err != nil {
			return entries, fmt.Errorf("%w: %v", ErrUnsafe, err)
		}
		p, err := CleanMember(hdr.Name)
		if err != nil {
			return entries, err
		}
		if p == "" {
			continue // the archive's root directory
		}
		if pol.Skip != nil && pol.Skip(p) {
			if pol.OnSkip != nil && hdr.Typeflag == tar.TypeReg {
				if err := pol.OnSkip(p, io.LimitReader(body, 1<<20)); err != nil {
					return entries, err
				}
			}
			continue
		}
		if len(entries) >= pol.MaxFiles {
			return entries, fmt.Errorf("%w: more than %d members", ErrUnsafe, pol.MaxFiles)
		}
		e := Entry{Path: p, Mode: uint32(hdr.Mode) & 07777, Mtime: hdr.ModTime.Unix()}
		if pol.Owners {
			e.UID, e.GID = hdr.Uid, hdr.Gid
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			e.Type = 'd'
		case tar.TypeReg:
			e.Type, e.Size = 'f', hdr.Size
		case tar.TypeSymlink:
			e.Type, e.Link = 'l', hdr.Linkname
		case tar.TypeLink:
			e.Type = 'h'
			if e.Link, err = CleanMember(hdr.Linkname); err != nil || e.Link == "" {
				return entries, fmt.Errorf("%w: hard link %q to %q", ErrUnsafe, p, hdr.Linkname)
			}
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			e.Type = map[byte]byte{tar.TypeChar: 'c', tar.TypeBlock: 'b', tar.TypeFifo: 'p'}[hdr.Typeflag]
			e.Dev = unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		case tar.TypeXGlobalHeader:
			continue
		default:
			return entries, fmt.Errorf("%w: %q has type %q, not a file, directory, link or device", ErrUnsafe, p, hdr.Typeflag)
		}
		if (e.Type == 'l' || e.Type == 'h') && !pol.Links {
			return entries, fmt.Errorf("%w: %q is a link; only files and directories belong here", ErrUnsafe, p)
		}
		if (e.Type == 'c' || e.Type == 'b') && !pol.Devices {
			return entries, fmt.Errorf("%w: %q is a device; only files and directories belong here", ErrUnsafe, p)
		}
		if e.Type == 'p' && !pol.FIFOs {
			return entries, fmt.Errorf("%w: %q is a FIFO (named pipe); a package holds files, directories, links and devices, and a FIFO is made by the program that uses it", ErrUnsafe, p)
		}
		if e.Type == 'l' && !symlinkInside(p, e.Link) {
			return entries, fmt.Errorf("%w: symlink %q -> %q leads outside the package", ErrUnsafe, p, e.Link)
		}
		if e.Type == 'h' && (seen[e.Link] != 'f') {
			return entries, fmt.Errorf("%w: hard link %q to %q, which is no earlier regular file of the archive", ErrUnsafe, p, e.Link)
		}
		if prev, dup := seen[p]; dup && !(prev == 'd' && e.Type == 'd') {
			return entries, fmt.Errorf("%w: %q appears twice", ErrUnsafe, p)
		}
		if e.Type == 'f' {
			if total+e.Size > pol.MaxBytes {
				return entries, fmt.Errorf("%w: contents exceed %d bytes (a decompression bomb?)", ErrUnsafe, pol.MaxBytes)
			}
			total += e.Size
		}
		var xattrs map[string]string
		if pol.Xattrs && e.Type != 'h' {
			if xattrs, err = archiveXattrs(hdr.PAXRecords); err != nil {
				return entries, fmt.Errorf("extract %s: %w", p, err)
			}
		}
		if e.Type == 'd' {
			dirfd, name, err := dirs.parent(p)
			if err != nil {
				return entries, fmt.Errorf("extract %s: %w", p, err)
			}
			// Directories are made private until their metadata is set,
			// except in a private area being staged, which nobody else
			// can reach: there a root-owned one is made as it will stay
			// (mkdir drops set-id bits; those get a chmod).
			mode, final := uint32(0o700), false
			if pol.Parallel && e.UID == 0 && e.GID == 0 && e.Mode&(unix.S_ISUID|unix.S_ISGID) == 0 {
				mode, final = e.Mode, true
			}
			err = unix.Mkdirat(dirfd, name, mode)
			if err != nil && err != unix.EEXIST {
				return entries, fmt.Errorf("extract %s: %w", p, err)
			}
			if _, dup := seen[p]; !dup {
				dirsDone = append(dirsDone, dirMeta{e, xattrs, final && err == nil})
			}
		} else if pool != nil && e.Type == 'f' && e.Size == 0 {
			// The parent is looked up here, in order: workers only create.
			dirfd, name, err := dirs.parent(p)
			if err != nil {
				return entries, fmt.Errorf("extract %s: %w", p, err)
			}
			pool.create(dirfd, name, e, xattrs)
		} else {
			if pool != nil && e.Type == 'h' {
				if err := pool.wait(); err != nil {
					return entries, err // its target may still be on its way
				}
			}
			if err := writeEntry(dirs, &e, body, buf, xattrs); err != nil {
				return entries, fmt.Errorf("extract %s: %w", p, err)
			}
		}
		if pool != nil {
			if err := pool.failed(); err != nil {
				return entries, err
			}
		}
		if _, dup := seen[p]; !dup {
			entries = append(entries, e)
			if pol.Progress != nil && len(entries)%progressEvery == 0 {
				pol.Progress(path.Dir(p))
			}
		}
		seen[p] = e.Type
	}
}

const progressEvery = 4096

// nodeTypes are the file types of the entries mknod makes.
var nodeTypes = map[byte]uint32{'c': unix.S_IFCHR, 'b': unix.S_IFBLK, 'p': unix.S_IFIFO}

// Mknod makes the device or FIFO e as name in dirfd, private (0600)
// until its metadata is set.
func Mknod(dirfd int, name string, e *Entry) error {
	t, ok := nodeTypes[e.Type]
	if !ok {
		return fmt.Errorf("%q is no device or FIFO (type %q)", e.Path, e.Type)
	}
	return unix.Mknodat(dirfd, name, t|0o600, int(e.Dev))
}

// archiveXattrs returns the extended attributes an archive member
// carries. A link attribute must be a well-formed link value.
func archiveXattrs(records map[string]string) (map[string]string, error) {
	var out map[string]string
	for k, v := range records {
		name, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok {
			continue
		}
		if name == linkattr.Name {
			if err := linkattr.Check(v); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnsafe, err)
			}
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = v
	}
	return out, nil
}
