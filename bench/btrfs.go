package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// btrfsUsed is what dir's btrfs filesystem has written to its devices,
// data, metadata (both copies when duplicated) and system. statfs does
// not say it: btrfs counts its metadata there only by the 256 MiB chunk
// or more.
func btrfsUsed(dir string) (int64, bool) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil || st.Type != unix.BTRFS_SUPER_MAGIC {
		return 0, false
	}
	// struct btrfs_ioctl_fs_info_args: the fsid names the sysfs directory.
	var info [1024]byte
	const iocFSInfo = 0x8400941f // _IOR(0x94, 31, struct btrfs_ioctl_fs_info_args)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), iocFSInfo, uintptr(unsafe.Pointer(&info[0]))); e != 0 {
		return 0, false
	}
	id := info[16:32]
	uuid := fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
	var total int64
	for _, kind := range []string{"data", "metadata", "system"} {
		b, err := os.ReadFile(filepath.Join("/sys/fs/btrfs", uuid, "allocation", kind, "disk_used"))
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, false
		}
		total += n
	}
	return total, true
}

// densityOnBtrfs runs the container measurements (without the idle
// mounts, which do not depend on the filesystem) on a btrfs loop file
// made in dir for the run.
func densityOnBtrfs(ezctl string, d *dataset, dir string, n int) ([]densityResult, error) {
	if _, err := exec.LookPath("mkfs.btrfs"); err != nil {
		return nil, fmt.Errorf("no mkfs.btrfs (apt install btrfs-progs)")
	}
	img, mnt := filepath.Join(dir, "density-btrfs.img"), filepath.Join(dir, "density-btrfs")
	unix.Unmount(mnt, unix.MNT_DETACH) // an interrupted run's
	os.Remove(img)
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(img)
	if err != nil {
		return nil, err
	}
	err = f.Truncate(8 << 30) // sparse
	f.Close()
	if err != nil {
		return nil, err
	}
	defer os.Remove(img)
	if out, err := exec.Command("mkfs.btrfs", "-q", img).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mkfs.btrfs: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mount %s: %v: %s", img, err, out)
	}
	defer func() {
		if unix.Unmount(mnt, 0) != nil {
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	}()
	fmt.Fprintf(os.Stderr, "  density: again on btrfs (%s)\n", mnt)
	return density(ezctl, d, mnt, n, 0)
}
