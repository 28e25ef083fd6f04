package mountd

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ezfs/ezfs/fs"
	"github.com/ezfs/ezfs/internal/mountinfo"
	"golang.org/x/sys/unix"
)

// Sentinel errors of the daemon, mapped to API codes (api.go) and back
// by the client.
var (
	ErrNotMounted     = errors.New("not mounted")
	ErrAlreadyMounted = errors.New("already mounted")
	ErrBusy           = errors.New("mount busy")
	ErrBadRequest     = errors.New("bad request")
	ErrForbidden      = errors.New("forbidden")
)

// BusyError names the processes that hold a busy mount.
type BusyError struct {
	Mountpoint string
	Holders    []mountinfo.Holder
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s is busy (%s); stop them, or detach it with --lazy", e.Mountpoint, mountinfo.DescribeHolders(e.Holders))
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// Options configures a daemon.
type Options struct {
	Socket string       // the API's unix socket
	State  string       // the list of what should be mounted
	Logger *slog.Logger // one line per mount event and per error
}

// DefaultSocket is where ezctl finds the daemon unless told otherwise.
const DefaultSocket = "/run/ezfs/mountd.sock"

// StatePath is the state file beside a socket.
func StatePath(socket string) string { return filepath.Join(filepath.Dir(socket), "mounts.json") }

// Daemon holds the mounts of a node.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	started time.Time

	mu        sync.Mutex
	mounts    map[string]*mount // by mountpoint
	reserved  map[string]bool   // mountpoints being mounted, outside the lock
	templates map[string]*sharedTemplate
	stopping  bool

	trim *trimmer // hands memory back when idle (memory.go)
}

type mount struct {
	Record
	srv      *fs.Server
	since    time.Time
	done     chan struct{} // closed when the kernel has ended the mount
	detached bool          // lazily unmounted, still in use; guarded by Daemon.mu
}

// sharedTemplate is one template area, opened once for all its mounts:
// they share what is cached about its immutable files.
type sharedTemplate struct {
	t    *fs.Template
	refs int
}

// New makes a daemon; Run serves it.
func New(opts Options) *Daemon {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.State == "" {
		opts.State = StatePath(opts.Socket)
	}
	return &Daemon{opts: opts, log: opts.Logger, started: time.Now(),
		mounts: map[string]*mount{}, reserved: map[string]bool{}, templates: map[string]*sharedTemplate{},
		trim: newTrimmer()}
}

// Mount mounts rec and records it. The daemon's lock is not held while
// the kernel mounts: one slow mount (a template on a cold disk, a kernel
// waiting on a dead peer) must not stall every other request. The
// mountpoint is reserved meanwhile, so a second request for it is
// refused rather than raced.
func (d *Daemon) Mount(rec Record) (*MountInfo, error) {
	if err := rec.check(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.stopping {
		d.mu.Unlock()
		return nil, fmt.Errorf("mountd is stopping")
	}
	if m, ok := d.mounts[rec.Mountpoint]; ok && !m.detached {
		defer d.mu.Unlock()
		if m.Private == rec.Private && m.Template == rec.Template {
			// Already what was asked, e.g. remounted by recovery after
			// the daemon was killed: nothing to do.
			info := m.info()
			return &info, nil
		}
		return nil, fmt.Errorf("%w: %s (private %s)", ErrAlreadyMounted, rec.Mountpoint, m.Private)
	}
	if d.reserved[rec.Mountpoint] {
		d.mu.Unlock()
		return nil, fmt.Errorf("%w: %s is being mounted by another request", ErrAlreadyMounted, rec.Mountpoint)
	}
	d.reserved[rec.Mountpoint] = true
	d.mu.Unlock()

	m, err := d.mountUnlocked(rec)

	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.reserved, rec.Mountpoint)
	if err != nil {
		return nil, err
	}
	if d.stopping {
		// shutdown did not see this mount: end it here, as it would.
		d.mu.Unlock()
		m.srv.Unmount(true)
		d.mu.Lock()
		d.releaseTemplateLocked(rec.Template)
		return nil, fmt.Errorf("mountd is stopping")
	}
	d.addLocked(m)
	if err := d.saveLocked(); err != nil {
		d.log.Error("save state", "err", err)
	}
	info := m.info()
	return &info, nil
}

// mountUnlocked checks rec's directories and mounts it. It takes the
// daemon's lock only to share the template area.
func (d *Daemon) mountUnlocked(rec Record) (*mount, error) {
	if m, ok, _ := mountinfo.Find(rec.Mountpoint); ok {
		if m.FSType == mountinfo.EzfsType && mountinfo.Dead(rec.Mountpoint) {
			// Left by a daemon that was killed: nobody serves it.
			d.log.Info("detaching dead mount", "mountpoint", rec.Mountpoint, "ctid", rec.ID)
			unix.Unmount(rec.Mountpoint, unix.MNT_DETACH)
		} else {
			return nil, fmt.Errorf("%w: %s is a mount point already (%s of %s)", ErrAlreadyMounted, rec.Mountpoint, m.FSType, m.Source)
		}
	}
	for _, p := range []struct{ what, path string }{{"template area", rec.Template}, {"private tree", rec.Private}, {"mountpoint", rec.Mountpoint}} {
		st, err := os.Stat(p.path)
		if err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: %s %s is not a directory (%v)", ErrBadRequest, p.what, p.path, err)
		}
	}
	t, err := d.acquireTemplate(rec.Template)
	if err != nil {
		return nil, err
	}
	log := d.log.With("ctid", rec.ID, "mountpoint", rec.Mountpoint)
	srv, err := mountFS(rec.Mountpoint, fs.Options{
		TemplateRoot: rec.Template, PrivateRoot: rec.Private, Template: t,
		NoPassthrough: rec.NoPassthrough, NoSetuid: rec.NoSetuid, NoDevices: rec.NoDevices, Debug: rec.Debug, Logger: log,
	})
	if err != nil {
		d.mu.Lock()
		d.releaseTemplateLocked(rec.Template)
		d.mu.Unlock()
		log.Error("mount failed", "private", rec.Private, "err", err)
		return nil, err
	}
	log.Info("mounted", "private", rec.Private, "template", rec.Template, "passthrough", srv.Passthrough())
	return &mount{Record: rec, srv: srv, since: time.Now(), done: make(chan struct{})}, nil
}

// mountFS is fs.Mount; tests put a slow mount in its place.
var mountFS = fs.Mount

// acquireTemplate opens a template area once for all its mounts and
// counts the mount in; releaseTemplateLocked counts it out.
func (d *Daemon) acquireTemplate(root string) (*fs.Template, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.templates[root]
	if st == nil {
		t, err := fs.OpenTemplate(root, d.log)
		if err != nil {
			return nil, err
		}
		st = &sharedTemplate{t: t}
		d.templates[root] = st
	}
	st.refs++
	return st.t, nil
}

// addLocked makes a new mount known and watches for its end.
func (d *Daemon) addLocked(m *mount) {
	d.mounts[m.Mountpoint] = m
	go d.watch(m)
}

// watch waits until the kernel ends a mount, by the API or by a plain
// umount of the mountpoint, and forgets it.
func (d *Daemon) watch(m *mount) {
	m.srv.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mounts[m.Mountpoint] == m {
		delete(d.mounts, m.Mountpoint)
		if !d.stopping {
			if err := d.saveLocked(); err != nil {
				d.log.Error("save state", "err", err)
			}
		}
	}
	d.releaseTemplateLocked(m.Template)
	d.log.Info("unmounted", "ctid", m.ID, "mountpoint", m.Mountpoint, "copy_ups", m.srv.Stats().CopyUps)
	close(m.done)
	d.trim.mountEnded()
}

func (d *Daemon) releaseTemplateLocked(root string) {
	st := d.templates[root]
	if st == nil {
		return
	}
	if st.refs > 0 {
		st.refs--
	}
	if st.refs == 0 {
		st.t.Close()
		delete(d.templates, root)
	}
}

// Unmount ends a mount. A busy one is refused with its holders, unless
// lazy, which detaches it at once.
func (d *Daemon) Unmount(mountpoint string, lazy bool) error {
	d.mu.Lock()
	m, ok := d.mounts[mountpoint]
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: mountd serves nothing at %s", ErrNotMounted, mountpoint)
	}
	if err := m.srv.Unmount(false); err != nil {
		if !lazy {
			if errors.Is(err, unix.EBUSY) {
				return &BusyError{Mountpoint: mountpoint, Holders: mountinfo.Holders(mountpoint)}
			}
			return err
		}
		if err := m.srv.Unmount(true); err != nil {
			return err
		}
		// The kernel ends the mount when its last user goes.
		d.mu.Lock()
		m.detached = true
		if err := d.saveLockedExcept(m); err != nil {
			d.log.Error("save state", "err", err)
		}
		d.mu.Unlock()
		d.log.Info("detached lazily", "ctid", m.ID, "mountpoint", mountpoint)
		return nil
	}
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		d.log.Warn("unmounted, but the kernel has not ended the connection yet", "mountpoint", mountpoint)
	}
	return nil
}

// Invalidate drops the kernel's caches of paths in a mount.
func (d *Daemon) Invalidate(mountpoint string, paths []string) error {
	d.mu.Lock()
	m, ok := d.mounts[mountpoint]
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: mountd serves nothing at %s", ErrNotMounted, mountpoint)
	}
	m.srv.Invalidate(paths)
	return nil
}

// MountInfo is what status shows of a mount.
type MountInfo struct {
	Record
	Detached    bool             `json:"detached,omitempty"`
	Since       time.Time        `json:"since"`
	Uptime      float64          `json:"uptime_seconds"`
	Passthrough bool             `json:"passthrough"`
	Stats       fs.StatsSnapshot `json:"stats"`
	Ops         map[string]int64 `json:"ops"`
}

func (m *mount) info() MountInfo {
	return MountInfo{Record: m.Record, Detached: m.detached, Since: m.since, Uptime: time.Since(m.since).Seconds(),
		Passthrough: m.srv.Passthrough(), Stats: m.srv.Stats(), Ops: m.srv.Ops()}
}

// Mounts lists the mounts.
func (d *Daemon) Mounts() []MountInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []MountInfo{}
	for _, m := range d.mounts {
		out = append(out, m.info())
	}
	return out
}

func (d *Daemon) saveLocked() error { return d.saveLockedExcept(nil) }

// saveLockedExcept records every mount that should come back after a
// restart: not detached ones.
func (d *Daemon) saveLockedExcept(skip *mount) error {
	recs := make([]Record, 0, len(d.mounts))
	for _, m := range d.mounts {
		if m != skip && !m.detached {
			recs = append(recs, m.Record)
		}
	}
	return saveState(d.opts.State, recs)
}

// recover mounts again what the state file lists, detaching the dead
// mountpoints a killed daemon left. A record whose private tree is gone
// is dropped.
func (d *Daemon) recover() {
	recs, err := loadState(d.opts.State)
	if err != nil {
		d.log.Error("read state", "err", err)
		return
	}
	// Nothing is served yet: no request can race these mounts.
	for _, rec := range recs {
		m, err := d.mountUnlocked(rec)
		if err != nil {
			d.log.Error("recover mount", "ctid", rec.ID, "mountpoint", rec.Mountpoint, "err", err)
			continue
		}
		d.mu.Lock()
		d.addLocked(m)
		d.mu.Unlock()
		d.log.Info("recovered", "ctid", rec.ID, "mountpoint", rec.Mountpoint)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.saveLocked(); err != nil {
		d.log.Error("save state", "err", err)
	}
}

// shutdown unmounts everything, lazily where busy, keeping the state
// file so that the next start mounts the same again.
func (d *Daemon) shutdown() {
	d.mu.Lock()
	d.stopping = true
	var all []*mount
	for _, m := range d.mounts {
		all = append(all, m)
	}
	d.mu.Unlock()
	for _, m := range all {
		if err := m.srv.Unmount(false); err != nil {
			// Its users get ENOTCONN once the daemon is gone; the mount
			// comes back at the next start.
			d.log.Warn("busy at shutdown, detaching lazily", "mountpoint", m.Mountpoint, "err", err)
			m.srv.Unmount(true)
			continue
		}
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
		}
	}
}
