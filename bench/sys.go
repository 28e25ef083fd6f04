package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// dropCaches empties the page, dentry and inode caches so that the next
// run starts cold; FUSE mounts forget their inodes too.
func dropCaches() error {
	unix.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

// meminfo returns a /proc/meminfo field in bytes.
func meminfo(field string) (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n << 10, err
	}
	return 0, fmt.Errorf("meminfo: no field %s", field)
}

// rss returns a process's resident memory in bytes.
func rss(pid int) (int64, error) { return procStatus(pid, "VmRSS") }

// rssAnon returns a process's resident anonymous memory (RSS without the
// pages of files it maps, such as its binary) in bytes.
func rssAnon(pid int) (int64, error) { return procStatus(pid, "RssAnon") }

// procStatus returns a size field of /proc/PID/status in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10, err
		}
	}
	return 0, fmt.Errorf("no %s for pid %d", field, pid)
}

// cpuTicks returns a process's user+system CPU time in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// settle waits until the serving processes stop using CPU: dropping
// caches makes the kernel send a FORGET for every inode it evicts, and a
// cold run must not be timed while the daemon is still digesting those.
func settle(pids []int) {
	deadline := time.Now().Add(10 * time.Second)
	last := int64(-1)
	for time.Now().Before(deadline) {
		var sum int64
		for _, p := range pids {
			sum += cpuTicks(p)
		}
		if sum == last {
			return
		}
		last = sum
		time.Sleep(100 * time.Millisecond)
	}
}
