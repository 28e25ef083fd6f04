package nsexec

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// droppedCaps leave the command's bounding set: what reaches past the
// container to the host's kernel, clock, disks or security modules.
// What a system's root needs to run its packages and services stays
// (chown, setuid, mknod, mount, ...): exec is the administrator's way
// into a container, not a sandbox (see docs/CONTAINERS.md).
var droppedCaps = []uintptr{
	unix.CAP_SYS_MODULE, unix.CAP_SYS_RAWIO, unix.CAP_SYS_TIME, unix.CAP_MAC_ADMIN, unix.CAP_MAC_OVERRIDE,
	unix.CAP_SYSLOG, unix.CAP_WAKE_ALARM, unix.CAP_BLOCK_SUSPEND, unix.CAP_AUDIT_CONTROL, unix.CAP_BPF, unix.CAP_PERFMON,
}

// dropCaps narrows the calling thread's bounding set, which the command
// it forks inherits; with the host's network, the network's
// administration goes too.
func dropCaps(net string) error {
	caps := droppedCaps
	if net != NetNone {
		caps = append(caps, unix.CAP_NET_ADMIN)
	}
	for _, c := range caps {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && err != unix.EINVAL { // EINVAL: unknown to this kernel
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return nil
}
