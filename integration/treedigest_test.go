//go:build workloads || online

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// digestTree describes every entry below root by what a program can
// observe of it through the filesystem and that does not depend on when
// or where it was made: type, permission bits, owner, size, contents
// (SHA-256), symlink target, device numbers, extended attributes and link
// count. Left out, because they legitimately differ between two
// filesystems or two runs: timestamps, inode and device numbers, block
// counts and a directory's st_size (each filesystem's own bookkeeping).
func digestTree(root string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("digest %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("digest %s: %w", p, err)
		}
		typ := st.Mode & unix.S_IFMT
		desc := fmt.Sprintf("type %o mode %04o owner %d:%d", typ, st.Mode&0o7777, st.Uid, st.Gid)
		if typ != unix.S_IFDIR {
			desc += fmt.Sprintf(" links %d size %d", st.Nlink, st.Size)
		}
		switch typ {
		case unix.S_IFREG:
			sum, err := fileSum(p)
			if err != nil {
				return err
			}
			desc += " sha256 " + sum
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case unix.S_IFCHR, unix.S_IFBLK:
			desc += fmt.Sprintf(" dev %d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		x, err := xattrs(p)
		if err != nil {
			return err
		}
		out[rel] = desc + x
		return nil
	})
	return out, err
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("digest %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// xattrs lists an entry's extended attributes, sorted, with their values.
func xattrs(p string) (string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		if err == unix.ENOTSUP {
			return "", nil
		}
		return "", fmt.Errorf("digest: listxattr %s: %w", p, err)
	}
	var names []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			return "", fmt.Errorf("digest: getxattr %s %s: %w", p, name, err)
		}
		fmt.Fprintf(&b, " xattr %s=%x", name, val[:m])
	}
	return b.String(), nil
}

// digestDiff lists the entries that differ, at most 40 of them, but
// those excuse accepts (both present, of the same type): it returns them
// apart.
func digestDiff(a, b map[string]string, excuse func(rel string) bool) (diff string, excused []string) {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		va, oka := a[k]
		vb, okb := b[k]
		switch {
		case !okb:
			out = append(out, fmt.Sprintf("  %s: only on ezfs: %s", k, va))
		case !oka:
			out = append(out, fmt.Sprintf("  %s: only on the plain directory: %s", k, vb))
		case va == vb:
		case excuse != nil && excuse(k) && strings.Fields(va)[1] == strings.Fields(vb)[1]:
			excused = append(excused, k)
		default:
			out = append(out, fmt.Sprintf("  %s:\n    %s\n    %s", k, va, vb))
		}
	}
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("  ... and %d more", len(out)-40))
	}
	return strings.Join(out, "\n"), excused
}
