package fs

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Server is one mounted private tree.
type Server struct {
	srv         *fuse.Server
	mntID       int // followed for remounts (atime.go)
	t           *tree
	raw         *rawFS
	root        *dirNode
	mountpoint  string
	ownTemplate bool // opened by Mount, closed by Wait
}

// ErrNeedRoot is returned by Mount when not run as root: the link
// attribute lives in the trusted namespace, and passthrough, allow_other
// and the read-only template clone all need CAP_SYS_ADMIN.
var ErrNeedRoot = errors.New("ezfs mounts need root (trusted.* attributes, FUSE passthrough); run it with sudo")

// Mount serves opts.PrivateRoot over opts.TemplateRoot at mountpoint and
// returns once the kernel has the mount. It sets the process umask to 0:
// the kernel has already applied the caller's umask to every mode it
// sends, and a second one would change what the caller asked for. It
// raises GOMAXPROCS (see raiseProcs).
func Mount(mountpoint string, opts Options) (_ *Server, err error) {
	if os.Geteuid() != 0 {
		return nil, ErrNeedRoot
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	for _, p := range []string{opts.TemplateRoot, opts.PrivateRoot} {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("mount: %q is not an absolute path", p)
		}
	}
	timeout := opts.CacheTimeout
	if timeout == 0 {
		timeout = DefaultCacheTimeout
	}
	unix.Umask(0)
	raiseProcs()

	privfd, cloned, err := openPrivate(opts.PrivateRoot, logger)
	if err != nil {
		return nil, fmt.Errorf("mount: open private tree %s: %w", opts.PrivateRoot, err)
	}
	defer func() {
		if err != nil {
			closeFD(privfd)
		}
	}()
	tmpl, ownTemplate := opts.Template, false
	if tmpl == nil {
		if tmpl, err = OpenTemplate(opts.TemplateRoot, logger); err != nil {
			return nil, fmt.Errorf("mount: %w", err)
		}
		ownTemplate = true
		defer func() {
			if err != nil {
				tmpl.Close()
			}
		}()
	}
	var rootSt unix.Stat_t
	if err := statAt(privfd, "", &rootSt); err != nil {
		return nil, err
	}

	t := &tree{tmpl: tmpl, passthrough: !opts.NoPassthrough, log: logger, privRoot: privfd, privCloned: cloned, attrTimeout: timeout}
	t.era.Store(newEra())
	t.atime.Store(-1) // the clone has the backing mount's setting
	atime := opts.Atime
	if opts.ReadOnly {
		atime = Noatime
	}
	if err := t.setAtime(atime); err != nil {
		return nil, fmt.Errorf("mount: set atime option on the private tree's clone: %w", err)
	}
	root := &dirNode{node: node{t: t, self: newFDBox(privfd)}}
	fsname := opts.FsName
	if fsname == "" {
		fsname = opts.PrivateRoot
	}
	fopts := &fusefs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther: true,
			// The kernel checks permissions for every uid in the
			// container; the daemon, root, acts on its behalf.
			Options:              []string{"default_permissions"},
			FsName:               fsname,
			Name:                 "ezfs",
			DirectMount:          true,
			DirectMountFlags:     mountFlags(opts),
			MaxWrite:             maxWrite(opts),
			EnableSymlinkCaching: true, // a symlink's target never changes in place
			// Default ACLs and the umask: see umask.go.
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC | fuse.CAP_DONT_MASK | killPrivCaps,
			EnableAcl:         true,
			Debug:             opts.Debug,
			Logger:            log.New(os.Stderr, "fuse: ", 0),
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		NullPermissions: true, // mode 0 is a mode, not "unset"
		RootStableAttr:  &fusefs.StableAttr{Ino: rootSt.Ino, Gen: genPlain},
	}
	raw := newRawFS(fusefs.NewNodeFS(root, fopts), t)
	defer func() {
		if err != nil {
			t.stopReadahead()
		}
	}()
	var srv *fuse.Server
	withBaseProcs(func() { srv, err = fuse.NewServer(raw, mountpoint, &fopts.MountOptions) })
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		unix.Unmount(mountpoint, unix.MNT_DETACH)
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	if t.passthrough && srv.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH == 0 {
		t.passthrough = false
		logger.Warn("this kernel offers no FUSE passthrough; reads and writes go through the daemon")
	}
	s := &Server{srv: srv, t: t, raw: raw, root: root, mountpoint: mountpoint, ownTemplate: ownTemplate}
	if s.mntID, err = mountID(mountpoint); err != nil {
		logger.Warn("cannot follow remounts; atime options stay as mounted", "err", err)
		err = nil
	} else {
		watchMount(s.mntID, t)
	}
	return s, nil
}

// Unmount detaches the mount; with lazy it detaches even while busy. A
// busy mount is an error that errors.Is matches with unix.EBUSY.
func (s *Server) Unmount(lazy bool) error {
	flags := 0
	if lazy {
		flags = unix.MNT_DETACH
	}
	var err error
	for try := 0; try < 3; try++ {
		if err = unix.Unmount(s.mountpoint, flags); err != unix.EBUSY && err != unix.EINTR {
			break
		}
		// A process may be on its way out of the mount; give it a moment.
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", s.mountpoint, err)
	}
	return nil
}

// Wait returns when the kernel has ended the mount, and frees what it held.
func (s *Server) Wait() {
	s.srv.Wait()
	if s.mntID != 0 {
		unwatchMount(s.mntID)
	}
	s.t.stopReadahead()
	s.t.pre.close()
	known.dropEra(s.t.era.Load())
	// The kernel sends no FORGET for what it still caches at unmount:
	// close every directory's fd now, not whenever the GC gets to it.
	closeDirs(s.root.EmbeddedInode())
	if s.ownTemplate {
		s.t.tmpl.Close()
	}
}

// Stats returns the mount's counters.
func (s *Server) Stats() StatsSnapshot { return s.t.stats.snapshot() }

// Passthrough reports whether the kernel serves I/O with passthrough.
func (s *Server) Passthrough() bool { return s.t.passthrough }

// Ops returns how many requests of each FUSE operation the mount served.
func (s *Server) Ops() map[string]int64 { return s.raw.ops.snapshot() }

// Invalidate drops what the kernel caches about paths relative to the
// private root, which changed behind the mount (mountd installs, updates
// and removes templates in mounted containers): the entry, the node's
// attributes, and the parent directory's listing. Processes see the new
// state at their next access; files they hold open keep what they had.
func (s *Server) Invalidate(paths []string) {
	s.t.pre.changed()
	defer s.t.pre.changed()
	known.dropEra(s.t.era.Swap(newEra()))
	defer func() { known.dropEra(s.t.era.Swap(newEra())) }() // nor what was read meanwhile
	root := s.root.EmbeddedInode()
	for _, p := range paths {
		p = strings.Trim(path.Clean("/"+p), "/")
		if p == "" {
			continue
		}
		dir := root
		els := strings.Split(p, "/")
		for i, el := range els {
			child := dir.GetChild(el)
			if i == len(els)-1 {
				dir.NotifyEntry(el)
				dir.NotifyContent(0, 0)
				if child != nil {
					child.NotifyContent(-1, 0)
				}
				break
			}
			if child == nil {
				break // the kernel knows nothing below
			}
			dir = child
		}
	}
}

// mountFlags are the mount(2) flags: go-fuse's default is nosuid,nodev,
// which a container root must not have unless asked. They are never
// zero (which would mean go-fuse's default): an atime flag is always
// set. No MS_MGC_VAL: the kernel ignores it only alone in the high 16
// bits, where MS_RELATIME and MS_STRICTATIME are; with them it fails
// the mount, and go-fuse silently falls back to fusermount.
func mountFlags(opts Options) uintptr {
	var flags uintptr
	if opts.NoSetuid {
		flags |= unix.MS_NOSUID
	}
	if opts.NoDevices {
		flags |= unix.MS_NODEV
	}
	if opts.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	switch opts.Atime {
	case Noatime:
		flags |= unix.MS_NOATIME
	case Strictatime:
		flags |= unix.MS_STRICTATIME
	default:
		flags |= unix.MS_RELATIME
	}
	return flags
}

// closeDirs closes the fds of every directory node below (and of) n.
func closeDirs(n *fusefs.Inode) {
	for _, ch := range n.Children() {
		if ch.IsDir() {
			closeDirs(ch)
		}
	}
	if d, ok := n.Operations().(*dirNode); ok {
		d.self.close()
	}
}

// maxWrite sizes the daemon's request buffers. With passthrough, reads
// and writes never reach the daemon: small buffers keep an idle mount
// cheap. Without it, large requests make the daemon's I/O efficient.
func maxWrite(opts Options) int {
	if opts.NoPassthrough {
		return 1 << 20
	}
	return 128 << 10
}
