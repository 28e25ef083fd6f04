package atfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// WriteOptions says how WriteAt publishes a file.
type WriteOptions struct {
	Mode uint32 // permission bits of the new file
	// Backup, if set, is the name an existing file is renamed to just
	// before the new one takes its place (a cache tarball keeps the one
	// it replaces); without it the old file is simply replaced.
	Backup string
}

// WriteAt makes name in dirfd hold what fill writes, atomically: fill
// writes a new file beside name (".new-NAME-PID", created O_EXCL, never
// through a symlink), which is synced, renamed over name, and the
// directory synced. A crash or a failure leaves the old file or the
// new one, never a part; on failure the new file is removed.
func WriteAt(dirfd int, name string, o WriteOptions, fill func(f *os.File) error) (err error) {
	tmp := tempName(name)
	Unlinkat(dirfd, tmp, 0) // debris of a crashed run with our pid
	fd, err := Create(dirfd, tmp, unix.O_WRONLY, o.Mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			Unlinkat(dirfd, tmp, 0) // a half-written file never becomes visible
		}
	}()
	f := os.NewFile(uintptr(fd), tmp)
	err = fill(f)
	if err == nil {
		// O_CREAT applied the umask; the mode asked for is the mode wanted.
		err = f.Chmod(os.FileMode(o.Mode & 0o7777))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	backedUp := false
	if o.Backup != "" {
		switch err := Renameat(dirfd, name, dirfd, o.Backup, 0); err {
		case nil:
			backedUp = true
		case unix.ENOENT:
		default:
			return fmt.Errorf("keep %s as %s: %w", name, o.Backup, err)
		}
	}
	if err := Renameat(dirfd, tmp, dirfd, name, 0); err != nil {
		if backedUp {
			Renameat(dirfd, o.Backup, dirfd, name, unix.RENAME_NOREPLACE)
		}
		return fmt.Errorf("rename %s to %s: %w", tmp, name, err)
	}
	if err := SyncDir(dirfd); err != nil {
		return fmt.Errorf("sync the directory of %s: %w", name, err)
	}
	return nil
}

// WriteFileAt makes name in dirfd hold data, atomically (see WriteAt).
func WriteFileAt(dirfd int, name string, data []byte, mode uint32) error {
	return WriteAt(dirfd, name, WriteOptions{Mode: mode}, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// WriteFile makes the file at path hold data, atomically (see WriteAt).
// The directory's path is trusted (it comes from configuration), the
// file itself is never followed if it is a symlink: it is replaced.
func WriteFile(path string, data []byte, mode uint32) error {
	dirfd, err := OpenDirPath(filepath.Dir(path))
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Dir(path), Err: err}
	}
	defer unix.Close(dirfd)
	if err := WriteFileAt(dirfd, filepath.Base(path), data, mode); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func tempName(name string) string {
	return ".new-" + name + "-" + strconv.Itoa(os.Getpid())
}
