package fs

import (
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixKnown lists the go-fuse POSIX tests that cannot pass on ezfs, with
// the reason. Everything else in posixtest.All must pass.
var posixKnown = map[string]string{
	"FcntlFlockLocksFile": "expects a second open by the same process to be refused a POSIX lock; " +
		"POSIX locks belong to the process, so a local filesystem (ext4) grants it too. " +
		"ezfs leaves locking to the kernel, which behaves exactly as for a local filesystem",
}

func TestPosix(t *testing.T) {
	for name, fn := range posixtest.All {
		t.Run(name, func(t *testing.T) {
			if why, ok := posixKnown[name]; ok {
				t.Skip(why)
			}
			w := newWorld(t, nil, nil)
			fn(t, w.mnt)
		})
	}
}
