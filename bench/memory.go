package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The daemon's memory, in a mountd of its own that serves nothing else:
// after a cold walk through 2 mounts of the tree, per inode that walk
// left cached, and once every mount has ended after rounds of 4 mounts
// walked and unmounted. Resident memory is VmRSS; the heap figures come
// from the daemon's pprof (/debug/pprof/heap on its socket).

const (
	memoryRounds      = 5
	memoryRoundMounts = 4
	memoryWalked      = 2 // mounts of the first, cold walk
)

// memoryFigures measures the daemon's memory. Its figures use the
// density results' shape: a value, and a target where the issue set one.
func memoryFigures(ezctl string, d *dataset) ([]densityResult, error) {
	dir := filepath.Join(d.dir, "memory")
	e := &densityEnv{ezctl: ezctl, vz: dir, socket: filepath.Join(dir, "run", "mountd.sock")}
	e.stop()
	for _, m := range mountsBelow(dir) {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	os.Remove(filepath.Join(dir, "run", "mounts.json"))
	fmt.Fprintf(os.Stderr, "  mountd memory: %d mounts walked cold, then %d rounds of %d ...\n", memoryWalked, memoryRounds, memoryRoundMounts)
	var mnts []string
	for i := 0; i < memoryRoundMounts; i++ {
		base := filepath.Join(dir, fmt.Sprint(i))
		priv, mnt := filepath.Join(base, "private"), filepath.Join(base, "root")
		// The private trees are kept for later runs (walks change nothing),
		// made again for another tree (--quick or not).
		if _, err := os.Stat(filepath.Join(priv, filepath.Base(d.tree)+".done")); err != nil {
			if err := d.makePrivate(priv); err != nil {
				return nil, err
			}
			os.WriteFile(filepath.Join(priv, filepath.Base(d.tree)+".done"), nil, 0o644)
		}
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			return nil, err
		}
		mnts = append(mnts, mnt)
	}
	ezctlOut := func(args ...string) ([]byte, error) {
		cmd := exec.Command(ezctl, args...)
		cmd.Env = append(os.Environ(), "EZFS_MOUNTD_SOCKET="+e.socket)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return out, fmt.Errorf("ezctl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return out, nil
	}
	ezctlRun := func(args ...string) error { _, err := ezctlOut(args...); return err }
	umount := func(i int) error { return ezctlRun("umount", mnts[i]) }
	defer func() {
		for i := range mnts {
			if isMountPoint(mnts[i]) {
				umount(i)
			}
		}
		e.stop()
	}()
	mount := func(i int) error {
		base := filepath.Join(dir, fmt.Sprint(i))
		return ezctlRun("mount", "--template", d.template, "--private", filepath.Join(base, "private"), "--log", base+".log", mnts[i])
	}
	// The caches of the whole machine can be dropped by anyone, which
	// makes the kernel forget the walk's inodes and the daemon its nodes:
	// a run that saw that is made again (at most 3 times).
	var (
		pid                                 int
		idle, idleAnon, atEnd, walked, anon int64
		idleHeap, walkedHeap                heapStats
		inodes                              int
		disturbed                           = true
	)
	for try := 0; try < 3 && disturbed; try++ {
		for i := 0; i < memoryWalked; i++ {
			if err := mount(i); err != nil {
				return nil, err
			}
		}
		if pid = e.mountdPID(); pid == 0 {
			return nil, fmt.Errorf("no mountd on %s", e.socket)
		}
		if err := dropCaches(); err != nil {
			return nil, err
		}
		settle([]int{pid})
		idle, _ = rss(pid)
		idleAnon, _ = rssAnon(pid)
		idleHeap, _ = mountdHeap(e.socket)
		inodes = 0
		for i := 0; i < memoryWalked; i++ {
			n, err := walkCount(filepath.Join(mnts[i], filepath.Base(d.tree)))
			if err != nil {
				return nil, err
			}
			inodes += n
		}
		settle([]int{pid})
		forgot := forgets(ezctlOut)
		atEnd, _ = rss(pid)
		walked = settledRSS(pid)
		anon, _ = rssAnon(pid)
		walkedHeap, _ = mountdHeap(e.socket)
		if n := forgets(ezctlOut) - forgot; n > int64(inodes)/100 {
			fmt.Fprintf(os.Stderr, "  mountd memory: the kernel forgot %d of the walk's inodes meanwhile (caches dropped by another process?); again\n", n)
		} else {
			disturbed = false
		}
		for i := 0; i < memoryWalked; i++ {
			if err := umount(i); err != nil {
				return nil, err
			}
		}
	}
	perInodeAtEnd := float64(atEnd-idle) / float64(inodes)
	perInode := float64(walked-idle) / float64(inodes)
	perInodeLive := float64(walkedHeap.live-idleHeap.live) / float64(inodes)
	note := ""
	if disturbed {
		note = " (DISTURBED: caches dropped meanwhile)"
	}
	for round := 0; round < memoryRounds; round++ {
		for i := 0; i < memoryRoundMounts; i++ {
			if err := mount(i); err != nil {
				return nil, err
			}
		}
		for i := 0; i < memoryRoundMounts; i++ {
			if err := walk(mnts[i], &dataset{tree: filepath.Base(d.tree), files: d.files}); err != nil {
				return nil, err
			}
		}
		for i := 0; i < memoryRoundMounts; i++ {
			if err := umount(i); err != nil {
				return nil, err
			}
		}
	}
	ended := settledRSS(pid)
	endedAnon, _ := rssAnon(pid)
	endedHeap, _ := mountdHeap(e.socket)
	const MiB = 1 << 20
	return []densityResult{
		{Name: fmt.Sprintf("before: %d mounts, nothing walked (RSS)", memoryWalked), Value: float64(idle), Unit: "B"},
		{Name: fmt.Sprintf("after a cold walk through %d mounts (RSS, idle)%s", memoryWalked, note), Value: float64(walked), Unit: "B", Target: "<= 24 MiB", Met: walked <= 24*MiB},
		{Name: "  the same, as the walk ended", Value: float64(atEnd), Unit: "B"},
		{Name: "  of it anonymous (the rest: the binary's pages)", Value: float64(anon), Unit: "B"},
		{Name: "  its Go heap: live / in use / obtained from the OS", Value: float64(walkedHeap.live), Unit: "B", Extra: walkedHeap.String()},
		{Name: fmt.Sprintf("per cached inode (RSS growth of the walk / %d inodes, idle)", inodes), Value: perInode, Unit: "b", Target: "<= 800 B", Met: perInode <= 800},
		{Name: "  the same, as the walk ended", Value: perInodeAtEnd, Unit: "b"},
		{Name: "  anonymous memory per cached inode (no binary pages)", Value: float64(anon-idleAnon) / float64(inodes), Unit: "b"},
		{Name: "  live heap per cached inode", Value: perInodeLive, Unit: "b"},
		{Name: fmt.Sprintf("after every mount has ended (%d rounds of %d, RSS)", memoryRounds, memoryRoundMounts), Value: float64(ended), Unit: "B", Target: "<= 20 MiB", Met: ended <= 20*MiB},
		{Name: "  of it anonymous (the rest: the binary's pages)", Value: float64(endedAnon), Unit: "B"},
		{Name: "  its Go heap: live / in use / obtained from the OS", Value: float64(endedHeap.live), Unit: "B", Extra: endedHeap.String()},
	}, nil
}

// forgets is how many FORGETs mountd's mounts have served.
func forgets(ezctl func(args ...string) ([]byte, error)) int64 {
	out, err := ezctl("mountd", "status", "--json")
	if err != nil {
		return 0
	}
	var st struct {
		Mounts []struct {
			Ops map[string]int64 `json:"ops"`
		} `json:"mounts"`
	}
	json.Unmarshal(out, &st)
	var n int64
	for _, m := range st.Mounts {
		n += m.Ops["FORGET"]
	}
	return n
}

// walkCount is walk, returning how many entries it saw.
func walkCount(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, err := os.Lstat(p); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// settledRSS waits until a process's resident memory has not changed for
// four seconds (at most 30 s: mountd gives memory back after 2 to 3 s
// idle, twice after a mount ended) and returns it.
func settledRSS(pid int) int64 {
	last, _ := rss(pid)
	since := time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		n, err := rss(pid)
		if err != nil {
			break
		}
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= 4*time.Second {
			break
		}
	}
	return last
}

// heapStats is what the daemon's heap profile says of its Go heap.
type heapStats struct {
	live, inuse, sys, released int64
}

func (h heapStats) String() string {
	const MiB = 1 << 20
	return fmt.Sprintf("%.1f / %.1f / %.1f MiB (%.1f MiB of it released)",
		float64(h.live)/MiB, float64(h.inuse)/MiB, float64(h.sys)/MiB, float64(h.released)/MiB)
}

// mountdHeap reads the daemon's heap figures from its pprof handler,
// after a collection (gc=1): HeapAlloc is then the live heap.
func mountdHeap(socket string) (heapStats, error) {
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	resp, err := c.Get("http://mountd/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		return heapStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return heapStats{}, fmt.Errorf("mountd heap profile: %s: %s", resp.Status, b)
	}
	var h heapStats
	fields := map[string]*int64{"HeapAlloc": &h.live, "HeapInuse": &h.inuse, "HeapSys": &h.sys, "HeapReleased": &h.released}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = ")
		if p := fields[k]; ok && p != nil {
			*p, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return h, sc.Err()
}

func printMemory(w io.Writer, res []densityResult) {
	fmt.Fprintln(w, "\nmountd memory (a daemon of its own, the tree mounted as link entries, passthrough):")
	for _, r := range memoryLines(res) {
		fmt.Fprintln(w, "  "+r)
	}
}

// memoryLines are the memory figures as the report and the chart show them.
func memoryLines(res []densityResult) []string {
	var out []string
	for _, r := range res {
		v := fmt.Sprintf("%.0f B", r.Value)
		if r.Unit == "B" {
			v = fmt.Sprintf("%.1f MiB", r.Value/(1<<20))
		}
		if r.Extra != "" {
			v = r.Extra
		}
		mark := targetMark(r.Target, r.Met)
		out = append(out, fmt.Sprintf("%-56s %14s  %s", r.Name, v, mark))
	}
	return out
}
