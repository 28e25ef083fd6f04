// Package dirs holds the directory operations the template area and the
// private areas share: closing a directory to other users, and syncing a
// directory or a whole filesystem.
package dirs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Seal makes dir 0700 unless it already has no group or other bits.
// dir comes from the node's configuration and may be a symlink (a
// template area on another disk): its target is closed.
func Seal(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("close %s to other users (chmod 0700): %w", dir, err)
	}
	return nil
}

// Sync flushes the directory dir (its entries), as after a rename.
func Sync(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// SyncFS writes out everything of the filesystem holding path: data,
// metadata and the journal.
func SyncFS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}
