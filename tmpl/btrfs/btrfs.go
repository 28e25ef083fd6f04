// Package btrfs makes and removes btrfs subvolumes and snapshots, and
// keeps the seeds containers are snapshotted from: a cache unpacked once
// into a read-only subvolume beside the private areas. Everything takes
// the parent directory as an fd and a name in it.
package btrfs

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The btrfs subvolume ioctls (linux/btrfs.h); x/sys has the magic but
// not these.
const (
	btrfsIocSubvolCreate   = 0x5000940e // _IOW(0x94, 14, struct btrfs_ioctl_vol_args)
	btrfsIocSnapDestroy    = 0x5000940f // _IOW(0x94, 15, struct btrfs_ioctl_vol_args)
	btrfsIocSnapCreateV2   = 0x50009417 // _IOW(0x94, 23, struct btrfs_ioctl_vol_args_v2)
	btrfsIocSubvolSetflags = 0x4008941a // _IOW(0x94, 26, __u64)
	btrfsSubvolRdonly      = 1 << 1
	// The root directory of every subvolume has this inode number.
	btrfsFirstFreeObjectID = 256
)

type btrfsVolArgs struct {
	fd   int64
	name [4088]byte
}

type btrfsVolArgsV2 struct {
	fd      int64
	transid uint64
	flags   uint64
	unused  [4]uint64
	name    [4040]byte
}

// OnBtrfs reports whether the directory open at fd is on btrfs.
func OnBtrfs(fd int) bool {
	var st unix.Statfs_t
	return unix.Fstatfs(fd, &st) == nil && st.Type == unix.BTRFS_SUPER_MAGIC
}

// IsSubvolume reports whether name in dirfd is the root of a btrfs
// subvolume.
func IsSubvolume(dirfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		st.Ino == btrfsFirstFreeObjectID && OnBtrfs(dirfd)
}

func btrfsIoctl(fd int, req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		if e != unix.EINTR {
			if e != 0 {
				return e
			}
			return nil
		}
	}
}

func volName(dst []byte, name string) error {
	if len(name) == 0 || len(name) >= len(dst) {
		return fmt.Errorf("btrfs subvolume name %q: bad length", name)
	}
	copy(dst, name)
	return nil
}

// CreateSubvolume makes an empty subvolume name in dirfd.
func CreateSubvolume(dirfd int, name string) error {
	var a btrfsVolArgs
	if err := volName(a.name[:], name); err != nil {
		return err
	}
	if err := btrfsIoctl(dirfd, btrfsIocSubvolCreate, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("btrfs subvolume create %s: %w", name, err)
	}
	return nil
}

// Snapshot makes name in dirfd a writable Snapshot of the subvolume open
// at src. The kernel commits the transaction before it returns, so the
// Snapshot is on disk whole.
func Snapshot(src, dirfd int, name string) error {
	var a btrfsVolArgsV2
	a.fd = int64(src)
	if err := volName(a.name[:], name); err != nil {
		return err
	}
	if err := btrfsIoctl(dirfd, btrfsIocSnapCreateV2, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("btrfs Snapshot %s: %w", name, err)
	}
	return nil
}

// SetReadOnly makes the subvolume open at fd read-only.
func SetReadOnly(fd int) error {
	flags := uint64(btrfsSubvolRdonly)
	if err := btrfsIoctl(fd, btrfsIocSubvolSetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("btrfs subvolume set read-only: %w", err)
	}
	return nil
}

// DeleteSubvolume removes the subvolume name in dirfd with everything
// in it at once; the filesystem frees its blocks in the background.
func DeleteSubvolume(dirfd int, name string) error {
	var a btrfsVolArgs
	if err := volName(a.name[:], name); err != nil {
		return err
	}
	if err := btrfsIoctl(dirfd, btrfsIocSnapDestroy, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("btrfs subvolume delete %s: %w", name, err)
	}
	return nil
}
