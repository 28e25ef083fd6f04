package fs

import (
	"golang.org/x/sys/unix"
)

// The mount asks for FUSE_DONT_MASK and FUSE_POSIX_ACL. Without the
// first, the kernel applies the caller's umask to every new file's mode
// before the daemon sees it, even in a directory with a default ACL,
// where POSIX.1e says the ACL replaces the umask (ext4 leaves it to
// posix_acl_create). With it, the kernel sends the mode unmasked and the
// umask beside it, and the daemon decides: in a directory with a default
// ACL the backing filesystem derives the mode from the ACL (the daemon
// runs with umask 0), elsewhere the daemon applies the umask.
// FUSE_POSIX_ACL makes the kernel's permission checks use ACLs (without
// it they see only the mode bits) and drop its cached attributes and
// ACLs when an ACL is set.
//
// go-fuse's node API passes the mode but not the umask, so rawFS carries
// the umask to the node methods in the mode's bits above the file type.
const (
	umaskShift = 16
	umaskSet   = 1 << 31 // a umask was sent, possibly 0
)

// withUmask packs umask into mode for the node methods.
func withUmask(mode, umask uint32) uint32 {
	return mode&0xffff | (umask&0o777)<<umaskShift | umaskSet
}

// createMode is the mode to create an object with in directory dirfd,
// from what a node method received (see withUmask).
func createMode(dirfd int, mode uint32) uint32 {
	umask := mode >> umaskShift & 0o777
	set := mode&umaskSet != 0
	mode &= 0xffff
	if !set || mode&umask == 0 || hasDefaultACL(dirfd) {
		return mode
	}
	return mode &^ umask
}

// hasDefaultACL reports whether the directory dirfd has a default ACL.
// Where that cannot be read it says no: the umask then applies, as the
// kernel would have applied it.
func hasDefaultACL(dirfd int) bool {
	n, err := retryEINTR(func() (int, error) {
		return unix.Getxattr(procPath(dirfd, ""), "system.posix_acl_default", nil)
	})
	return err == nil && n > 0
}
