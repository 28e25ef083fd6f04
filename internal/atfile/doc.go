// Package atfile is the one layer for system calls on trees that are
// not ours to trust: a container's root or private area, a template
// area, a repository. fs, tmpl, ctl and mountd make these calls through
// it and nowhere else.
//
// # One name below a directory fd
//
// Openat, Create, Mkdirat, Mknodat, Symlinkat, Unlinkat, Renameat,
// Linkat, Fstatat take a single name relative to a directory fd, never
// follow a symlink in it (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, files made
// O_CREAT|O_EXCL), set O_CLOEXEC, and retry a call a signal
// interrupted (Retry): the Go runtime preempts threads with signals.
//
// # Paths
//
// OpenBeneath resolves a relative path read from a file someone else can
// write (a link value) with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS):
// no "..", no symlink anywhere, or the call fails.
//
// Root resolves paths inside a container's tree the way a chroot of it
// would: openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) against the
// tree's fd, so a symlink in the tree (to "/", to "../../..", to a host
// directory) leads into the tree and never out of it; the last element
// is never followed. Only the tree's own path is trusted.
//
// # Publishing a file
//
// WriteAt (WriteFileAt, WriteFile) is the one atomic write: the content
// goes to a new file beside the target, is synced, renamed over it, and
// the directory synced; a crash leaves the old file or the new one, a
// failure removes the new one. State files, indexes, package lists and
// cache tarballs are all written this way.
package atfile
