package fs

import (
	"log/slog"
	"time"
)

// Options configures one mount.
type Options struct {
	TemplateRoot string // absolute; the template area, shared and never written
	PrivateRoot  string // absolute; the container's tree (root/ of a private area)

	// Template, if set, is the opened TemplateRoot, shared with other
	// mounts; else Mount opens its own.
	Template *Template

	// NoSetuid and NoDevices mount with nosuid and nodev. A container
	// root wants neither (su, ping, its own device nodes), which is the
	// default, as on a local filesystem.
	NoSetuid, NoDevices bool

	// ReadOnly mounts read-only; Atime is how reads move access times
	// (relatime by default). Both also follow `mount -o remount`.
	ReadOnly bool
	Atime    Atime

	// NoPassthrough serves reads and writes from the daemon instead of
	// FUSE passthrough; for benchmarks and kernels that refuse it.
	NoPassthrough bool

	// CacheTimeout is how long the kernel may trust entries and
	// attributes; zero means DefaultCacheTimeout.
	CacheTimeout time.Duration

	// Logger receives one line per error worth a human's look; nil
	// means slog.Default().
	Logger *slog.Logger

	// Debug logs every FUSE request.
	Debug bool

	// FsName is shown in /proc/mounts; empty means PrivateRoot.
	FsName string
}

// DefaultCacheTimeout is long because nothing changes the tree behind the
// mount's back: template files are immutable and private files change
// only through the mount (or through mountd, which invalidates).
const DefaultCacheTimeout = time.Hour
