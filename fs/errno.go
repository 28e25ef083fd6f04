package fs

import (
	"errors"
	"io/fs"
	"log/slog"
	"syscall"
)

// errnoOf is the one place where errors become errnos at the FUSE edge.
// Errnos pass through, sentinels map to theirs, the rest is logged and
// becomes EIO, so that no wrapped error turns into a surprising ENOTSUP.
func errnoOf(log *slog.Logger, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, fs.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return syscall.EPERM
	}
	log.Error("internal error", "err", err)
	return syscall.EIO
}
