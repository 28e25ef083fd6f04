package fs

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ezfs/ezfs/internal/xattrat"
	"golang.org/x/sys/unix"
)

// LinkAttr is the extended attribute that makes an empty private file a
// link entry. Its value is the backing file's path relative to the
// template area.
const LinkAttr = "trusted.ezfs.link"

// privateAttrPrefix covers every attribute of ours: invisible and
// immutable from inside a mount.
const privateAttrPrefix = "trusted.ezfs."

// maxLinkValue bounds a link value; PATH_MAX is plenty for a relative path
// inside the template area.
const maxLinkValue = 4096

// ErrBadLink marks a link value that is malformed or leads outside the
// template area.
var ErrBadLink = errors.New("bad link entry")

// CheckLinkValue reports whether v is a well-formed link value: a
// relative, clean path with no "." or ".." element, no empty element and
// no NUL byte.
func CheckLinkValue(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: empty value", ErrBadLink)
	case len(v) > maxLinkValue:
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

var linkBufs = sync.Pool{New: func() any { b := make([]byte, 256); return &b }}

// readLinkValue returns the link value of (dirfd, name), or ok=false when
// the file carries no link attribute. A value intern knows comes back as
// its string: no copy per lookup, which the collector would otherwise
// find scattered among the nodes that stay (nil intern: always a copy).
func readLinkValue(dirfd int, name string, intern func([]byte) string) (value string, ok bool, err error) {
	bp := linkBufs.Get().(*[]byte)
	defer linkBufs.Put(bp)
	buf := *bp
	for {
		n, err := xattrat.Get(dirfd, name, LinkAttr, buf)
		switch {
		case err == unix.ENODATA:
			return "", false, nil
		case err == unix.ERANGE && len(buf) < maxLinkValue+1:
			buf = make([]byte, maxLinkValue+1)
			continue
		case err == unix.ERANGE:
			return "", true, fmt.Errorf("%w: value longer than %d bytes", ErrBadLink, maxLinkValue)
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
