// Package linkattr owns the link attribute: the extended attribute that
// makes an empty file in a private area a link entry, read as the
// template file its value names. fs serves it, the template manager
// writes it, ezctl and fsck read it; all of them go through here, so the
// name, the rules for a value and the way it is read exist once.
//
// # Reading
//
// The attribute is read without opening the file (a container may have
// put a FIFO there) and without following a symlink: by (dirfd, name)
// with getxattrat(2) where the kernel has it (internal/xattrat), or from
// an fd already open.
//
// # Values
//
// A value is a path relative to the template area: clean, no "." or ".."
// element, no empty element, no NUL, at most MaxValue bytes. A value
// that breaks a rule is refused when written and reads as ErrBadLink.
package linkattr

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ezfs/ezfs/internal/xattrat"
	"golang.org/x/sys/unix"
)

// Name is the link attribute.
const Name = "trusted.ezfs.link"

// Namespace prefixes every attribute of ours: invisible and immutable
// from inside a mount.
const Namespace = "trusted.ezfs."

// MaxValue bounds a value; PATH_MAX is plenty for a relative path inside
// the template area.
const MaxValue = 4096

// ErrBadLink marks a value that is malformed or leads outside the
// template area.
var ErrBadLink = errors.New("bad link entry")

// IsOurs reports whether attr is in our namespace.
func IsOurs(attr string) bool { return strings.HasPrefix(attr, Namespace) }

// Check reports whether v is a well-formed value.
func Check(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: empty value", ErrBadLink)
	case len(v) > MaxValue:
		return fmt.Errorf("%w: value of %d bytes", ErrBadLink, len(v))
	case strings.HasPrefix(v, "/"):
		return fmt.Errorf("%w: absolute path %q", ErrBadLink, v)
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("%w: NUL byte in %q", ErrBadLink, v)
	}
	for _, el := range strings.Split(v, "/") {
		switch el {
		case "", ".", "..":
			return fmt.Errorf("%w: element %q in %q", ErrBadLink, el, v)
		}
	}
	return nil
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 256); return &b }}

// GetAt returns the value of (dirfd, name), not checked, or ok=false
// when the file carries no link attribute. An empty name means dirfd.
// A value over MaxValue is ErrBadLink with ok=true.
func GetAt(dirfd int, name string) (value string, ok bool, err error) {
	return GetAtInterned(dirfd, name, nil)
}

// GetAtInterned is GetAt, but a value intern knows comes back as the
// string intern returns: no copy per lookup, which the collector would
// otherwise find scattered among the nodes that stay. intern returns ""
// for a value it does not know; a nil intern always copies.
func GetAtInterned(dirfd int, name string, intern func([]byte) string) (value string, ok bool, err error) {
	return get(func(buf []byte) (int, error) { return xattrat.Get(dirfd, name, Name, buf) }, intern)
}

// Get is GetAt for an open fd.
func Get(fd int) (value string, ok bool, err error) {
	return get(func(buf []byte) (int, error) {
		for {
			n, err := unix.Fgetxattr(fd, Name, buf)
			if err != unix.EINTR {
				return n, err
			}
		}
	}, nil)
}

func get(read func([]byte) (int, error), intern func([]byte) string) (string, bool, error) {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	for {
		n, err := read(buf)
		switch {
		case err == unix.ENODATA:
			return "", false, nil
		case err == unix.ERANGE && len(buf) < MaxValue+1:
			buf = make([]byte, MaxValue+1)
			continue
		case err == unix.ERANGE || err == nil && n > MaxValue:
			return "", true, fmt.Errorf("%w: value longer than %d bytes", ErrBadLink, MaxValue)
		case err != nil:
			return "", false, err
		}
		if intern != nil {
			if v := intern(buf[:n]); v != "" {
				return v, true, nil
			}
		}
		return string(buf[:n]), true, nil
	}
}

// HasAt reports whether (dirfd, name) carries the link attribute,
// whatever its value; a missing file carries none.
func HasAt(dirfd int, name string) (bool, error) {
	switch _, err := xattrat.Get(dirfd, name, Name, nil); err {
	case nil:
		return true, nil
	case unix.ENODATA, unix.ENOENT:
		return false, nil
	default:
		return false, err
	}
}

// Has reports whether the open fd carries the link attribute.
func Has(fd int) (bool, error) {
	for {
		_, err := unix.Fgetxattr(fd, Name, nil)
		switch err {
		case nil:
			return true, nil
		case unix.ENODATA:
			return false, nil
		case unix.EINTR:
			continue
		}
		return false, err
	}
}

// SetAt makes (dirfd, name) a link to value, which must pass Check.
func SetAt(dirfd int, name, value string) error {
	if err := Check(value); err != nil {
		return err
	}
	return xattrat.Set(dirfd, name, Name, []byte(value))
}

// Set makes the open fd a link to value, which must pass Check.
func Set(fd int, value string) error {
	if err := Check(value); err != nil {
		return err
	}
	for {
		if err := unix.Fsetxattr(fd, Name, []byte(value), 0); err != unix.EINTR {
			return err
		}
	}
}

// Remove drops the link attribute of the open fd: the file becomes a
// plain private file. A file without one is ENODATA.
func Remove(fd int) error {
	for {
		if err := unix.Fremovexattr(fd, Name); err != unix.EINTR {
			return err
		}
	}
}
