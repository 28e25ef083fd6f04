package fs

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// capFsetid is CAP_FSETID's bit in /proc/PID/status CapEff.
const capFsetid = 4

// dropSetID clears the set-ID bits of the regular file open as fd after
// caller changed its contents by a request the kernel does not clear
// them for (FALLOCATE: a local filesystem clears them in its fallocate,
// and the daemon does the operation as root, for whom the backing
// filesystem keeps them). It reports whether it changed the mode.
func dropSetID(fd int, caller *fuse.Caller) (bool, error) {
	var st unix.Stat_t
	if err := statAt(fd, "", &st); err != nil {
		return false, err
	}
	mode, drop := setIDDropped(&st, caller)
	if !drop {
		return false, nil
	}
	err := retryEINTR0(func() error { return unix.Fchmod(fd, mode) })
	return err == nil, err
}

// dropSetIDAt is dropSetID for the file name in dirfd (the node's
// location), which must still be inode ino.
func dropSetIDAt(dirfd int, name string, ino uint64, caller *fuse.Caller) error {
	var st unix.Stat_t
	if err := statAt(dirfd, name, &st); err != nil {
		return err
	}
	if mode, drop := setIDDropped(&st, caller); drop {
		return chmodAt(dirfd, name, ino, mode)
	}
	return nil
}

// setIDDropped returns the mode st keeps after caller changed its
// contents, and whether that differs. The rule is the kernel's
// (setattr_should_drop_suidgid): set-user-ID always, set-group-ID when
// group-executable or when the caller is not in the file's group, and
// neither for a caller with CAP_FSETID. The caller's credentials are
// read only for a file with a set-ID bit.
func setIDDropped(st *unix.Stat_t, caller *fuse.Caller) (uint32, bool) {
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&(unix.S_ISUID|unix.S_ISGID) == 0 {
		return 0, false
	}
	who := readCaller(caller)
	kill := st.Mode & unix.S_ISUID
	if st.Mode&unix.S_ISGID != 0 && (st.Mode&unix.S_IXGRP != 0 || !who.inGroup(st.Gid)) {
		kill |= unix.S_ISGID
	}
	if kill == 0 || who.fsetid {
		return 0, false
	}
	return st.Mode & 07777 &^ kill, true
}

// callerCreds is what the kernel's checks need of a requesting process
// beyond the uid and gid FUSE sends with every request.
type callerCreds struct {
	gid    uint32
	groups []uint32
	fsetid bool
}

func (c callerCreds) inGroup(gid uint32) bool {
	if c.gid == gid {
		return true
	}
	for _, g := range c.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// readCaller reads the caller's supplementary groups and effective
// capabilities from /proc. A caller gone meanwhile is judged by its uid
// alone (root has CAP_FSETID).
func readCaller(caller *fuse.Caller) callerCreds {
	c := callerCreds{gid: caller.Gid, fsetid: caller.Uid == 0}
	data, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(caller.Pid), 10) + "/status")
	if err != nil {
		return c
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "Groups":
			for _, f := range strings.Fields(val) {
				if g, err := strconv.ParseUint(f, 10, 32); err == nil {
					c.groups = append(c.groups, uint32(g))
				}
			}
		case "CapEff":
			if caps, err := strconv.ParseUint(val, 16, 64); err == nil {
				c.fsetid = caps&(1<<capFsetid) != 0
			}
		}
	}
	return c
}
