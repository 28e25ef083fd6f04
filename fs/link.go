package fs

import "github.com/ezfs/ezfs/internal/linkattr"

// The link attribute (its name, the rules for a value, how it is read)
// belongs to internal/linkattr, shared with the template manager and
// ezctl; these names are fs's public face of it.

// LinkAttr is the extended attribute that makes an empty private file a
// link entry. Its value is the backing file's path relative to the
// template area.
const LinkAttr = linkattr.Name

// ErrBadLink marks a link value that is malformed or leads outside the
// template area.
var ErrBadLink = linkattr.ErrBadLink

// CheckLinkValue reports whether v is a well-formed link value: a
// relative, clean path with no "." or ".." element, no empty element and
// no NUL byte.
func CheckLinkValue(v string) error { return linkattr.Check(v) }
