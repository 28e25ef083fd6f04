package fs

import (
	"context"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Set-ID bits and FUSE_HANDLE_KILLPRIV_V2. Without it the kernel clears
// the set-ID bits of a file written, truncated or chowned by sending the
// new mode itself, and to compute it asks for the file's attributes
// (a GETATTR before every chown, tar's included) and for its
// security.capability attribute (a GETXATTR before every write and
// chown, since it caches no "absent"). With it the daemon clears them,
// and the kernel marks a file it has seen without set-ID bits and
// capabilities (S_NOSEC) and asks no more before its writes until they
// are set (it still asks at every chown). It removes capabilities
// itself, with a REMOVEXATTR, as before.
//
// What the daemon then does, as root, whose own writes and truncates
// clear nothing on the backing filesystem:
//   - SETATTR of the size with FATTR_KILL_SUIDGID (a caller without
//     CAP_FSETID): clears them after the truncate (node.go);
//   - OPEN with O_TRUNC: clears them for a caller without CAP_FSETID
//     (truncatedAtOpen; the kernel's OPEN_KILL_SUIDGID says the same,
//     but go-fuse's node API does not pass it on);
//   - a chown: the backing chown, as root, clears the set-user-ID bit
//     and a group-executable file's set-group-ID bit, which is what the
//     kernel asked for before;
//   - a write by a caller without CAP_FSETID (a passthrough write never
//     reaches the daemon): the kernel sends an empty SETATTR before it,
//     as for chown(path, -1, -1); the daemon serves it as that chown,
//     which as root clears the set-user-ID bit and a group-executable
//     file's set-group-ID bit, and then by the caller's rule (node.go);
//   - FALLOCATE: as before (setid.go).
//
// The rule is the kernel's for a local filesystem (setid.go), the
// caller's groups and capabilities read from /proc only for a file with
// a set-ID bit.
const killPrivCaps = fuse.CAP_HANDLE_KILLPRIV_V2

// truncatedAtOpen clears the set-ID bits of the file open as fd after an
// O_TRUNC open by the caller in ctx. The kernel refreshes size and times
// after such an open, not the mode (an exec would still see the bits):
// it drops the attributes it cached. Attributes only: that takes no lock
// an OPEN holds.
func (f *fileNode) truncatedAtOpen(ctx context.Context, fd int) error {
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return nil
	}
	changed, err := dropSetID(fd, caller)
	if changed {
		f.NotifyContent(-1, 0)
	}
	return err
}
