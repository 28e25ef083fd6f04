package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// densityResult is one figure of the container density measurements,
// which only ezfs has: no native to compare with, a target instead.
type densityResult struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"` // "s", "B" or "%"
	Target string  `json:"target"`
	Met    bool    `json:"met"`
	Extra  string  `json:"extra,omitempty"` // more of the figure, in words
}

// densityEnv is a node in a --vz directory with a mountd of its own.
type densityEnv struct {
	ezctl, vz, socket string
}

func (e *densityEnv) run(args ...string) (string, error) {
	cmd := exec.Command(e.ezctl, append([]string{"--vz", e.vz}, args...)...)
	cmd.Env = append(os.Environ(), "EZFS_MOUNTD_SOCKET="+e.socket)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ezctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (e *densityEnv) mountdPID() int {
	out, err := e.run("mountd", "status", "--json")
	if err != nil {
		return 0
	}
	var st struct {
		PID int `json:"pid"`
	}
	json.Unmarshal([]byte(out), &st)
	return st.PID
}

func (e *densityEnv) stop() {
	if pid := e.mountdPID(); pid > 0 {
		unix.Kill(pid, unix.SIGTERM)
		for i := 0; i < 500 && unix.Kill(pid, 0) == nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// writeTreePackage packs a tree as one tar package of the bench's own
// repository: its files at their container paths and .ezfs/control.
func writeTreePackage(repo, name, tree string) error {
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return err
	}
	p := filepath.Join(repo, name+"_1.0_amd64.tar.zst")
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	f, err := os.Create(p + ".new")
	if err != nil {
		return err
	}
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	control := fmt.Sprintf("Package: %s\nVersion: 1.0\nArchitecture: amd64\nDescription: benchmark data\n", name)
	tw.WriteHeader(&tar.Header{Name: ".ezfs/control", Mode: 0o644, Size: int64(len(control)), Typeflag: tar.TypeReg})
	tw.Write([]byte(control))
	err = filepath.WalkDir(tree, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tree, path)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(path)
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, in)
			in.Close()
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p + ".new")
		return err
	}
	return os.Rename(p+".new", p)
}

func (e *densityEnv) template(name, repo string) error {
	cfg := filepath.Join(e.vz, "src", name, "1", "x86_64", "config", "os", "default")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		return err
	}
	for f, data := range map[string]string{"packages": name + "\n", "package_manager": "tar\n", "repositories": repo + "\n"} {
		if err := os.WriteFile(filepath.Join(cfg, f), []byte(data), 0o644); err != nil {
			return err
		}
	}
	if _, err := e.run("repo", "index", repo); err != nil {
		return err
	}
	if _, err := e.run("template", "install", filepath.Join(e.vz, "src")); err != nil {
		return err
	}
	_, err := e.run("cache", "create", name+"-1-x86_64")
	return err
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func duBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			if info, err := d.Info(); err == nil {
				n += info.Sys().(*syscall.Stat_t).Blocks * 512
			}
		}
		return nil
	})
	return n
}

// fsType names the filesystem dir is on, from the mount table: the
// filesystem's magic number cannot tell ext4 from ext2.
func fsType(dir string) string {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "?"
	}
	mounts, err := mountinfo.All()
	if err != nil {
		return "?"
	}
	typ, best := "?", -1
	for _, m := range mounts {
		if (dir == m.Point || m.Point == "/" || strings.HasPrefix(dir, m.Point+"/")) && len(m.Point) >= best {
			typ, best = m.FSType, len(m.Point)
		}
	}
	return typ
}

// density creates n containers from a cache of the dataset's tree, mounts
// them through one mountd, walks one, and unmounts them; then holds
// `scale` tiny mounts at once.
func density(ezctl string, d *dataset, dir string, n, scale int) ([]densityResult, error) {
	e := &densityEnv{ezctl: ezctl, vz: filepath.Join(dir, "vz"), socket: filepath.Join(dir, "run", "mountd.sock")}
	// Debris of an interrupted run: its daemon, its list of mounts.
	e.stop()
	for _, m := range mountsBelow(dir) {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	os.RemoveAll(e.vz)
	os.RemoveAll(filepath.Dir(e.socket))
	if err := os.MkdirAll(e.vz, 0o755); err != nil {
		return nil, err
	}
	// The filesystem frees a removed run's inodes in the background
	// (XFS: 1.7 million of them). Wait until its space stops changing, so
	// that work neither slows the creates timed below nor shrinks the
	// space they are measured to take (syncfs alone does not wait for
	// XFS's inode collector).
	if err := syncFS(e.vz); err != nil {
		return nil, err
	}
	waitSpaceSettled(e.vz)
	defer func() { e.stop(); os.RemoveAll(e.vz) }()
	repo := filepath.Join(dir, "repo")
	fmt.Fprintf(os.Stderr, "  density: packing the tree and creating its cache on %s ...\n", fsType(dir))
	// Named after the tree: a quick run's smaller tree is another package.
	name := "bench-" + strings.ReplaceAll(filepath.Base(d.tree), "_", "-")
	if err := writeTreePackage(repo, name, filepath.Join(d.template, d.tree)); err != nil {
		return nil, err
	}
	if err := e.template(name, repo); err != nil {
		return nil, err
	}
	var res []densityResult
	var creates []float64
	used0 := fsUsed(e.vz)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := e.run("create", fmt.Sprint(1000+i), "--ostemplate", name+"-1-x86_64"); err != nil {
			return nil, err
		}
		creates = append(creates, time.Since(start).Seconds())
	}
	// Blocks of one private area, and what the filesystem lost per
	// container (statfs): inodes are disk too, which blocks do not count
	// on XFS; ext4's inode tables are allocated at mkfs.
	syncFS(e.vz)
	blocks := float64(duBytes(filepath.Join(e.vz, "private", "1000")))
	used := float64(fsUsed(e.vz)-used0) / float64(n)
	disk := max(blocks, used)
	pct := 100 * disk / float64(d.bytes)
	res = append(res,
		densityResult{Name: fmt.Sprintf("create a container (median of %d, ezctl included)", n), Value: median(creates), Unit: "s", Target: "< 0.2 s", Met: median(creates) < 0.2},
		densityResult{Name: "blocks of one private area (du)", Value: blocks, Unit: "B"},
		densityResult{Name: "filesystem space used per container (" + usedHow(e.vz) + ")", Value: used, Unit: "B"},
		densityResult{Name: "disk per container / template bytes (larger of the two)", Value: pct, Unit: "%", Target: "< 2 %", Met: pct < 2})

	var mounts []float64
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := e.run("mount", fmt.Sprint(1000+i)); err != nil {
			return nil, err
		}
		mounts = append(mounts, time.Since(start).Seconds())
	}
	pid := e.mountdPID()
	rss1, _ := rss(pid)
	root := filepath.Join(e.vz, "root", "1000")
	if err := walk(root, &dataset{tree: ".", files: d.files}); err != nil {
		return nil, err
	}
	rss2, _ := rss(pid)
	perInodes := float64(rss2-rss1) / float64(d.files) * 10000
	res = append(res,
		densityResult{Name: fmt.Sprintf("mount through mountd (median of %d, ezctl included)", n), Value: median(mounts), Unit: "s", Target: "< 0.05 s", Met: median(mounts) < 0.05},
		densityResult{Name: "mountd memory per 10,000 cached inodes", Value: perInodes, Unit: "B"})
	for i := 0; i < n; i++ {
		if _, err := e.run("umount", fmt.Sprint(1000+i)); err != nil {
			return nil, err
		}
	}
	for i := 0; i < n; i++ {
		e.run("destroy", fmt.Sprint(1000+i))
	}
	// Also drops a btrfs seed, which is read-only and so beyond RemoveAll.
	e.run("template", "remove", name+"-1-x86_64")
	e.stop()
	if scale == 0 {
		return res, nil
	}

	// Scale: many idle mounts of small containers in one daemon.
	fmt.Fprintf(os.Stderr, "  scale: %d mounts in one mountd ...\n", scale)
	small := filepath.Join(dir, "repo-small")
	tiny := filepath.Join(dir, "tiny-tree")
	os.MkdirAll(filepath.Join(tiny, "etc"), 0o755)
	os.WriteFile(filepath.Join(tiny, "etc", "hostname"), []byte("ct\n"), 0o644)
	if err := writeTreePackage(small, "tiny", tiny); err != nil {
		return nil, err
	}
	if err := e.template("tiny", small); err != nil {
		return nil, err
	}
	for i := 0; i < scale; i++ {
		if _, err := e.run("create", fmt.Sprint(5000+i), "--ostemplate", "tiny-1-x86_64"); err != nil {
			return nil, err
		}
	}
	if _, err := e.run("mount", "5000"); err != nil {
		return nil, err
	}
	pid = e.mountdPID()
	base, _ := rss(pid)
	mounts = mounts[:0]
	for i := 1; i < scale; i++ {
		start := time.Now()
		if _, err := e.run("mount", fmt.Sprint(5000+i)); err != nil {
			return nil, err
		}
		mounts = append(mounts, time.Since(start).Seconds())
	}
	full, _ := rss(pid)
	perMount := float64(full-base) / float64(scale-1)
	res = append(res,
		densityResult{Name: fmt.Sprintf("mount in a daemon holding up to %d (median)", scale), Value: median(mounts), Unit: "s", Target: "< 0.05 s", Met: median(mounts) < 0.05},
		densityResult{Name: "mountd memory per idle mount", Value: perMount, Unit: "B", Target: "< 1 MiB", Met: perMount < 1<<20})
	for i := 0; i < scale; i++ {
		e.run("umount", fmt.Sprint(5000+i))
	}
	return res, nil
}

func printDensity(w io.Writer, fsname string, res []densityResult) {
	fmt.Fprintf(w, "\ncontainer density (ezfs, private areas on %s):\n", fsname)
	for _, r := range res {
		v := ""
		switch r.Unit {
		case "s":
			v = format(r.Value, "s")
		case "B":
			v = fmt.Sprintf("%.0f KiB", r.Value/1024)
		case "%":
			v = fmt.Sprintf("%.2f %%", r.Value)
		}
		mark := targetMark(r.Target, r.Met)
		fmt.Fprintf(w, "  %-58s %12s  %s\n", r.Name, v, mark)
	}
}

// mountsBelow lists the mountpoints below dir, deepest first.
func mountsBelow(dir string) []string {
	data, _ := os.ReadFile("/proc/mounts")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			out = append(out, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

// fsUsed is the space the filesystem of dir has in use, in bytes.
func fsUsed(dir string) int64 {
	if n, ok := btrfsUsed(dir); ok {
		return n
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return 0
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

// usedHow says where fsUsed's figure comes from.
func usedHow(dir string) string {
	if _, ok := btrfsUsed(dir); ok {
		return "btrfs disk_used"
	}
	return "statfs"
}

func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// waitSpaceSettled returns once the space used on dir's filesystem has
// not changed for a second, or after a minute.
func waitSpaceSettled(dir string) {
	last, same := fsUsed(dir), 0
	for deadline := time.Now().Add(time.Minute); same < 5 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		if u := fsUsed(dir); u == last {
			same++
		} else {
			last, same = u, 0
		}
	}
}

// targetMark says whether a figure meets its target, if it has one.
func targetMark(target string, met bool) string {
	switch {
	case target == "":
		return ""
	case met:
		return "target " + target + ": met"
	}
	return "target " + target + ": MISSED"
}
