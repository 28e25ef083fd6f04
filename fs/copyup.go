package fs

import (
	"fmt"

	"github.com/ezfs/ezfs/internal/linkattr"
	"golang.org/x/sys/unix"
)

// copyUp fills the link entry dst, open for writing, with the template
// file value and then removes its link attribute: the attribute is the
// one switch between link and copy, so the data is made durable before
// it goes. A failure (ENOSPC) leaves the link intact and gives back the
// space. trunc >= 0 copies only that many bytes and sizes the copy to it.
func (t *tree) copyUp(dst int, value string, trunc int64) (copied int64, err error) {
	if has, err := linkattr.Has(dst); err == nil && !has {
		return 0, nil // copied by an earlier, interrupted request
	}
	var entry unix.Stat_t
	if err := statAt(dst, "", &entry); err != nil {
		return 0, err
	}
	src, err := t.tmpl.open(value, unix.O_RDONLY)
	if err != nil {
		return 0, fmt.Errorf("copy-up: open template file %q: %w", value, err)
	}
	defer closeFD(src)
	var st unix.Stat_t
	if err := statAt(src, "", &st); err != nil {
		return 0, err
	}
	n := st.Size
	if trunc >= 0 && trunc < n {
		n = trunc
	}
	// Bytes of an earlier copy-up a crash interrupted are garbage.
	if err := retryEINTR0(func() error { return unix.Ftruncate(dst, 0) }); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			unix.Ftruncate(dst, 0)
		}
	}()
	if err = copyData(dst, src, n, n == st.Size); err != nil {
		return 0, fmt.Errorf("copy-up of %q: %w", value, err)
	}
	if trunc > n {
		if err = unix.Ftruncate(dst, trunc); err != nil {
			return 0, err
		}
	}
	if err = retryEINTR0(func() error { return unix.Fdatasync(dst) }); err != nil {
		return 0, err
	}
	// The copy is the container's file as it was: keep its times.
	ts := []unix.Timespec{entry.Atim, entry.Mtim}
	if err = unix.UtimesNanoAt(unix.AT_FDCWD, procPath(dst, ""), ts, 0); err != nil {
		return 0, err
	}
	if err = linkattr.Remove(dst); err != nil {
		return 0, err
	}
	known.forget(t.era.Load(), entry.Ino)
	return n, nil
}

// copyData copies n bytes from the start of src into dst: a reflink where
// the filesystem shares blocks, else copy_file_range (in the kernel, no
// trip through user space), else read and write.
func copyData(dst, src int, n int64, whole bool) error {
	if n == 0 {
		return nil
	}
	if whole && unix.IoctlFileClone(dst, src) == nil {
		return nil
	}
	var off int64
	for off < n {
		roff, woff := off, off
		m, err := retryEINTR(func() (int, error) {
			return unix.CopyFileRange(src, &roff, dst, &woff, int(min(n-off, 1<<30)), 0)
		})
		if err != nil {
			if off == 0 && (err == unix.EXDEV || err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP) {
				return copyByReading(dst, src, n)
			}
			return err
		}
		if m == 0 {
			return fmt.Errorf("template file shrank at %d of %d bytes", off, n)
		}
		off += int64(m)
	}
	return nil
}

func copyByReading(dst, src int, n int64) error {
	buf := make([]byte, 1<<20)
	var off int64
	for off < n {
		m, err := retryEINTR(func() (int, error) { return unix.Pread(src, buf[:min(int64(len(buf)), n-off)], off) })
		if err != nil {
			return err
		}
		if m == 0 {
			return fmt.Errorf("template file shrank at %d of %d bytes", off, n)
		}
		for w := 0; w < m; {
			k, err := retryEINTR(func() (int, error) { return unix.Pwrite(dst, buf[w:m], off+int64(w)) })
			if err != nil {
				return err
			}
			w += k
		}
		off += int64(m)
	}
	return nil
}
