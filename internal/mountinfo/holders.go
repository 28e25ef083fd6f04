package mountinfo

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Holder is a process using a mount: its cwd, root, executable, an open
// file or a mapping lies below the mountpoint.
type Holder struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

// Holders scans /proc for the processes using mnt. Reading the links of
// /proc never touches the mount itself, dead or alive.
func Holders(mnt string) []Holder {
	under := func(p string) bool { return p == mnt || strings.HasPrefix(p, mnt+"/") }
	procs, _ := os.ReadDir("/proc")
	var out []Holder
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		if !usesMount(dir, under) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		out = append(out, Holder{PID: pid, Comm: strings.TrimSpace(string(comm))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

func usesMount(dir string, under func(string) bool) bool {
	for _, l := range []string{"cwd", "root", "exe"} {
		if p, err := os.Readlink(filepath.Join(dir, l)); err == nil && under(p) {
			return true
		}
	}
	fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
	for _, fd := range fds {
		if p, err := os.Readlink(filepath.Join(dir, "fd", fd.Name())); err == nil && under(p) {
			return true
		}
	}
	maps, _ := os.ReadFile(filepath.Join(dir, "maps"))
	for _, line := range strings.Split(string(maps), "\n") {
		if i := strings.Index(line, " /"); i >= 0 && under(strings.TrimSpace(line[i:])) {
			return true
		}
	}
	return false
}

// DescribeHolders says who holds a mount, for an error message.
func DescribeHolders(hs []Holder) string {
	if len(hs) == 0 {
		return "held by no process found in /proc: a mount below it, or a file being closed"
	}
	parts := make([]string, 0, len(hs))
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("pid %d (%s)", h.PID, h.Comm))
	}
	return "held by " + strings.Join(parts, ", ")
}
