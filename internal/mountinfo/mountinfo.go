// Package mountinfo answers "what is mounted where" from
// /proc/self/mountinfo, the one source that names FUSE mounts whose
// serving process is gone (stat on those fails with ENOTCONN).
package mountinfo

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one line of mountinfo.
type Mount struct {
	ID           int    // the mount's ID (statx STATX_MNT_ID)
	Point        string // mount point, unescaped
	FSType       string // e.g. "fuse.ezfs"
	Source       string
	Options      string // of the mount: "rw,nosuid,relatime"
	SuperOptions string // of the filesystem: "ro,user_id=0"
}

// EzfsType is the type ezfs mounts show in /proc/mounts.
const EzfsType = "fuse.ezfs"

// All lists the mounts of this process's namespace.
func All() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m, err := parseLine(sc.Text())
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// parseLine reads "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw".
func parseLine(line string) (Mount, error) {
	fields := strings.Fields(line)
	sep := -1
	for i, f := range fields {
		if f == "-" {
			sep = i
			break
		}
	}
	if sep < 5 || sep+2 >= len(fields) {
		return Mount{}, fmt.Errorf("mountinfo: malformed line %q", line)
	}
	id, _ := strconv.Atoi(fields[0])
	m := Mount{ID: id, Point: unescape(fields[4]), Options: fields[5], FSType: fields[sep+1], Source: unescape(fields[sep+2])}
	if sep+3 < len(fields) {
		m.SuperOptions = fields[sep+3]
	}
	return m, nil
}

// unescape undoes the octal escapes (\040 for space) of mountinfo.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	var v int
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	return byte(v), v < 256
}

// Find returns the topmost mount at point, if any.
func Find(point string) (Mount, bool, error) {
	all, err := All()
	if err != nil {
		return Mount{}, false, err
	}
	var found Mount
	ok := false
	for _, m := range all {
		if m.Point == point {
			found, ok = m, true
		}
	}
	return found, ok, nil
}

// Dead reports whether the FUSE mount at point has lost its server
// ("transport endpoint is not connected"). statfs always reaches the
// server, where stat may be answered from the kernel's cached attributes.
func Dead(point string) bool {
	var st unix.Statfs_t
	return unix.Statfs(point, &st) == unix.ENOTCONN
}
