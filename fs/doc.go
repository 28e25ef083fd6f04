// Package fs serves one container's private area over a shared template
// area. Private files are used in place; link entries (empty files carrying
// the trusted.ezfs.link attribute) read as the template file they name and
// stay read-only until the first write copies them up.
//
// # Identity
//
// Inode numbers are the private tree's own, so they survive remounts. A link
// entry, the copy it becomes, and the entry relinked to another template
// file are different FUSE inodes (same st_ino, another generation): the
// kernel allows one passthrough backing file per FUSE inode, and go-fuse
// hands every later open of an inode the backing of the first one. Were the
// link and its copy one FUSE inode, a writer opening it while a reader holds
// it would get the reader's backing, the template file, and write into it;
// were a relinked entry the same FUSE inode, new opens would read the old
// package's file as long as anyone held it open.
//
// # Copy-up
//
// A write-open (or truncate) of a link copies the template file into the
// entry itself, fdatasyncs it, and only then removes the attribute: the
// attribute is the single switch between "link" and "copy", so a crash at
// any moment leaves the intact link (its stray bytes ignored and overwritten
// by the next copy-up) or the complete copy. The link node is then stale and
// answers ESTALE to every open; the kernel looks the name up again
// (LOOKUP_REVAL), gets the copy's node and opens that, while readers that
// already hold the link keep reading the template.
//
// # Speed
//
// Template files never change and the private tree changes only through the
// mount, so entries, attributes and negative lookups are cached for a long
// time. OPENDIR and FLUSH answer ENOSYS (see raw.go): directory opens cost
// no round trip and listings are cached by the kernel. Regular files are
// opened with FUSE passthrough, so reads and writes go from the kernel to
// the backing file and every container shares one page cache per template
// file.
//
// # Safety
//
// Every name is resolved one component at a time against the directory fd
// of its parent, never following a symlink; link targets are opened with
// openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS below a read-only clone of the
// template area, so no path of the daemon can write a template file or
// leave the template area. trusted.ezfs.* is invisible and immutable from
// inside the mount.
package fs
