package ctl

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// FIEMAP (linux/fiemap.h); x/sys has neither the structs nor the ioctl.
const (
	fsIocFiemap        = 0xc020660b // _IOWR('f', 11, struct fiemap)
	fiemapFlagSync     = 0x1
	fiemapExtentLast   = 0x1
	fiemapExtentShared = 0x2000
	fiemapBatch        = 64
)

type fiemapExtent struct {
	logical, physical, length uint64
	_                         [2]uint64
	flags                     uint32
	_                         [3]uint32
}

type fiemapReq struct {
	start, length                   uint64
	flags, mapped, count, _reserved uint32
	extents                         [fiemapBatch]fiemapExtent
}

// sharedBytes is how much of the file open at fd lies in extents it
// shares with other files: a btrfs snapshot's files share every extent
// with the seed until changed, an XFS or btrfs copy-up is a reflink of
// the template file. 0 where the filesystem cannot say.
func sharedBytes(fd int) int64 {
	var req fiemapReq
	var shared int64
	for start := uint64(0); ; {
		req = fiemapReq{start: start, length: ^uint64(0) - start, flags: fiemapFlagSync, count: fiemapBatch}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), fsIocFiemap, uintptr(unsafe.Pointer(&req))); e != 0 || req.mapped == 0 {
			return shared
		}
		for _, x := range req.extents[:req.mapped] {
			if x.flags&fiemapExtentShared != 0 {
				shared += int64(x.length)
			}
			if x.flags&fiemapExtentLast != 0 {
				return shared
			}
			start = x.logical + x.length
		}
	}
}
