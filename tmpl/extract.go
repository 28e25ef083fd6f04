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
	"sync"

	"github.com/ezfs/ezfs/fs"
	"github.com/ezfs/ezfs/internal/xattrat"
	"golang.org/x/sys/unix"
)

// ErrUnsafeArchive marks an archive refused before (or while) anything of
// it is written: traversal, absolute paths, links out of the tree,
// duplicates, forbidden types, sizes past the bound.
var ErrUnsafeArchive = errors.New("unsafe archive")

// extractPolicy says what an archive may hold.
type extractPolicy struct {
	links    bool  // symlinks and hard links
	devices  bool  // character and block devices
	fifos    bool  // named pipes
	owners   bool  // apply the archive's owners (else root)
	xattrs   bool  // apply extended attributes (PAX SCHILY.xattr.*)
	maxBytes int64 // total of regular file contents
	maxFiles int
	parallel bool                   // create empty files (link entries) on worker threads
	skip     func(name string) bool // entries to read but not write (e.g. .ezfs/control)
	onSkip   func(name string, r io.Reader) error
	progress func(dir string) // called every few thousand members with the last one's directory
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
	var ms members = directMembers{tar.NewReader(r)}
	if pol.parallel {
		ms = newAheadMembers(tar.NewReader(r))
	}
	defer ms.close()
	dirs := newDirFDs(dstfd)
	defer dirs.close()
	var pool *createPool
	if pol.parallel {
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
			err := parallelDo(len(dirsDone), pol.parallel, func(i int) error {
				dm := &dirsDone[i]
				if err := setDirMeta(dstfd, &dm.e, dm.xattrs, !dm.made); err != nil {
					return fmt.Errorf("extract %s: %w", dm.e.Path, err)
				}
				return nil
			})
			return entries, err
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
				if err := pol.onSkip(p, io.LimitReader(body, 1<<20)); err != nil {
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
		if (e.Type == 'c' || e.Type == 'b') && !pol.devices {
			return entries, fmt.Errorf("%w: %q is a device; only files and directories belong here", ErrUnsafeArchive, p)
		}
		if e.Type == 'p' && !pol.fifos {
			return entries, fmt.Errorf("%w: %q is a FIFO (named pipe); a package holds files, directories, links and devices, and a FIFO is made by the program that uses it", ErrUnsafeArchive, p)
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
		var xattrs map[string]string
		if pol.xattrs && e.Type != 'h' {
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
			if pol.parallel && e.UID == 0 && e.GID == 0 && e.Mode&(unix.S_ISUID|unix.S_ISGID) == 0 {
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
			if pol.progress != nil && len(entries)%progressEvery == 0 {
				pol.progress(path.Dir(p))
			}
		}
		seen[p] = e.Type
	}
}

const progressEvery = 4096

// nodeTypes are the file types of the entries mknod makes.
var nodeTypes = map[byte]uint32{'c': unix.S_IFCHR, 'b': unix.S_IFBLK, 'p': unix.S_IFIFO}

// mknodEntry makes the device or FIFO e as name in dirfd, private (0600)
// until its metadata is set.
func mknodEntry(dirfd int, name string, e *Entry) error {
	t, ok := nodeTypes[e.Type]
	if !ok {
		return fmt.Errorf("%q is no device or FIFO (type %q)", e.Path, e.Type)
	}
	return unix.Mknodat(dirfd, name, t|0o600, int(e.Dev))
}

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
	fd, err := openBeneath(d.root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		pfd, pname, perr := d.parent(dir)
		if perr != nil {
			return -1, "", perr
		}
		if merr := unix.Mkdirat(pfd, pname, 0o755); merr != nil && merr != unix.EEXIST {
			return -1, "", merr
		}
		fd, err = openBeneath(d.root, dir, unix.O_PATH|unix.O_DIRECTORY)
	}
	if err != nil {
		return -1, "", fmt.Errorf("%w: parent of %q: %v", ErrUnsafeArchive, p, err)
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
		fd, err = openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, mode)
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
			if err := unix.Lsetxattr(fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, name), k, []byte(v), 0); err != nil {
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
		if err := mknodEntry(dirfd, name, e); err != nil {
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
	fd, err := openBeneath(root, e.Path, flags)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
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
				return fmt.Errorf("%w: %v", ErrUnsafeArchive, cutShort(e.Path, rerr))
			}
			return rerr
		}
	}
	if n != e.Size {
		return fmt.Errorf("%w: %q holds %d bytes, its header says %d", ErrUnsafeArchive, e.Path, n, e.Size)
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

// archiveXattrs returns the extended attributes an archive member
// carries. A link attribute must be a well-formed link value.
func archiveXattrs(records map[string]string) (map[string]string, error) {
	var out map[string]string
	for k, v := range records {
		name, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok {
			continue
		}
		if name == fs.LinkAttr {
			if err := fs.CheckLinkValue(v); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnsafeArchive, err)
			}
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = v
	}
	return out, nil
}

// createPool creates empty files on a few threads: a cache is mostly
// link entries, and their creation is nearly all system call time. Jobs
// travel in batches: one channel hand-off per file cost more than the
// file.
type createPool struct {
	jobs    []chan []createJob // one per worker
	batches [][]createJob
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
}

type createJob struct {
	dirfd  int
	name   string
	e      Entry
	xattrs map[string]string
}

const (
	createWorkers = 4
	createBatch   = 128
)

func newCreatePool() *createPool {
	p := &createPool{jobs: make([]chan []createJob, createWorkers), batches: make([][]createJob, createWorkers)}
	for w := range createWorkers {
		p.jobs[w] = make(chan []createJob, 2)
		go func() {
			for batch := range p.jobs[w] {
				for i := range batch {
					j := &batch[i]
					if err := createEmpty(j.dirfd, j.name, &j.e, j.xattrs); err != nil {
						p.mu.Lock()
						if p.err == nil {
							p.err = fmt.Errorf("extract %s: %w", j.e.Path, err)
						}
						p.mu.Unlock()
						break
					}
				}
				p.wg.Done()
			}
		}()
	}
	return p
}

// create queues a file; it is made by the time wait returns. The files
// of one directory go to one worker: creates in a directory take its
// lock (one shared queue measured about 10 ms slower per container).
func (p *createPool) create(dirfd int, name string, e Entry, xattrs map[string]string) {
	w := dirfd % createWorkers
	p.batches[w] = append(p.batches[w], createJob{dirfd, name, e, xattrs})
	if len(p.batches[w]) == createBatch {
		p.flush(w)
	}
}

func (p *createPool) flush(w int) {
	if len(p.batches[w]) == 0 {
		return
	}
	p.wg.Add(1)
	p.jobs[w] <- p.batches[w]
	p.batches[w] = make([]createJob, 0, createBatch)
}

func (p *createPool) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// wait returns when every queued file exists (the workers stay).
func (p *createPool) wait() error {
	for w := range createWorkers {
		p.flush(w)
	}
	p.wg.Wait()
	return p.failed()
}

// stop waits for the queued files and ends the workers.
func (p *createPool) stop() {
	p.wait()
	for _, c := range p.jobs {
		close(c)
	}
}

// createEmpty makes an empty regular file with its metadata, by name:
// no file is opened, which saves two system calls of the four a link
// entry would otherwise cost. The directory is the extraction's own, so
// the name cannot be swapped for a symlink in between.
func createEmpty(dirfd int, name string, e *Entry, xattrs map[string]string) error {
	owned := e.UID != 0 || e.GID != 0
	mode := e.Mode
	if owned {
		mode = 0o600 // until the owner is set: a chown clears set-id bits
	}
	if err := mknodat(dirfd, name, unix.S_IFREG|mode); err != nil {
		return err
	}
	e.SHA256 = emptySHA256
	if owned {
		if err := unix.Fchownat(dirfd, name, e.UID, e.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(dirfd, name, e.Mode, 0); err != nil {
			return err
		}
	}
	for k, v := range xattrs {
		if err := xattrat.Set(dirfd, name, k, []byte(v)); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	ts := []unix.Timespec{{Sec: e.Mtime}, {Sec: e.Mtime}}
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// parallelDo runs f(0..n-1), on createWorkers threads when parallel, and
// returns the first error.
func parallelDo(n int, parallel bool, f func(i int) error) error {
	if !parallel || n < 64 {
		for i := 0; i < n; i++ {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range createWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}
