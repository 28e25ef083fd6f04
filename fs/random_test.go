package fs

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// op is one POSIX operation, run the same way on any root.
type op struct {
	kind string
	a, b string
	data string
	mode os.FileMode
	size int64
}

func (o op) String() string {
	return fmt.Sprintf("%s(%q, %q, %q, %o, %d)", o.kind, o.a, o.b, o.data, o.mode, o.size)
}

var randNames = []string{"l1", "l2", "d/l3", "u1", "x", "y", "d/x", "d/y", "e", "e/z", "d"}

func randomOp(r *rand.Rand) op {
	kinds := []string{"create", "append", "write", "truncate", "read", "mkdir", "rmdir", "unlink", "rename", "link", "symlink", "chmod", "stat", "readdir", "forget",
		"fsyncdir", "partial"}
	o := op{kind: kinds[r.IntN(len(kinds))], a: randNames[r.IntN(len(randNames))], b: randNames[r.IntN(len(randNames))]}
	o.data = strings.Repeat(string(rune('a'+r.IntN(26))), 1+r.IntN(20))
	o.mode = os.FileMode([]int{0o600, 0o644, 0o755, 0o4755, 0o700}[r.IntN(5)])
	o.size = int64(r.IntN(30))
	switch o.kind {
	case "readdir", "partial", "fsyncdir":
		// Mostly directories: the root, whose listing starts readahead
		// of d and e, and those two, changed by the other operations.
		if r.IntN(4) != 0 {
			o.a = []string{".", "d", "e"}[r.IntN(3)]
		}
	}
	return o
}

// apply runs o below root and returns what a caller would see of it.
func apply(root string, o op) string {
	a, b := filepath.Join(root, o.a), filepath.Join(root, o.b)
	res := func(s string, err error) string {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return "errno " + errno.Error()
		}
		if err != nil {
			return "error"
		}
		return s
	}
	switch o.kind {
	case "create":
		return res("", os.WriteFile(a, []byte(o.data), 0o644))
	case "append", "write":
		flag := os.O_WRONLY | os.O_APPEND
		if o.kind == "write" {
			flag = os.O_WRONLY
		}
		f, err := os.OpenFile(a, flag, 0)
		if err != nil {
			return res("", err)
		}
		defer f.Close()
		if o.kind == "write" {
			_, err = f.WriteAt([]byte(o.data), o.size%5)
		} else {
			_, err = f.Write([]byte(o.data))
		}
		return res("", err)
	case "truncate":
		return res("", os.Truncate(a, o.size))
	case "read":
		d, err := os.ReadFile(a)
		return res(string(d), err)
	case "mkdir":
		return res("", os.Mkdir(a, 0o755))
	case "rmdir":
		return res("", syscall.Rmdir(a))
	case "unlink":
		return res("", syscall.Unlink(a))
	case "rename":
		return res("", os.Rename(a, b))
	case "link":
		return res("", os.Link(a, b))
	case "symlink":
		return res("", os.Symlink(o.data, a))
	case "chmod":
		return res("", syscall.Chmod(a, uint32(o.mode)))
	case "stat":
		var st syscall.Stat_t
		err := syscall.Lstat(a, &st)
		return res(fmt.Sprintf("mode %o size %d nlink %d", st.Mode, st.Size, st.Nlink), err)
	case "forget":
		// The kernel forgets what it cached, so what comes next is asked
		// of the daemon again (and may be answered by readahead).
		return res("", os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0))
	case "fsyncdir":
		// As dpkg does after a change in a directory.
		fd, err := syscall.Open(a, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return res("", err)
		}
		defer syscall.Close(fd)
		return res("", syscall.Fsync(fd))
	case "partial":
		// A listing that stops after its first entry (which one that is
		// differs between filesystems); the next listing must start
		// afresh.
		f, err := os.Open(a)
		if err != nil {
			return res("", err)
		}
		defer f.Close()
		_, err = f.ReadDir(1)
		if err == io.EOF {
			err = nil
		}
		return res("", err)
	case "readdir":
		es, err := os.ReadDir(a)
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return res(strings.Join(names, ","), err)
	}
	return "?"
}

// snapshotTree records everything comparable below root.
func snapshotTree(root string) map[string]string {
	out := map[string]string{}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		st := info.Sys().(*syscall.Stat_t)
		v := fmt.Sprintf("%v nlink %d", info.Mode(), st.Nlink)
		if info.IsDir() {
			v = fmt.Sprintf("%v", info.Mode())
		}
		switch {
		case info.Mode().IsRegular():
			d, _ := os.ReadFile(p)
			v += " " + string(d)
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			v += " -> " + l
		}
		out[rel] = v
		return nil
	})
	return out
}

var randLower = files{"l1": "lower one\n", "l2": "lower two\n", "d/l3": "lower three\n"}

// runBoth runs ops on a fresh ezfs mount and a fresh plain directory and
// returns the first difference, or "".
func runBoth(t *testing.T, ops []op) string {
	w := newWorld(t, randLower, files{"u1": "upper\n"})
	defer w.unmount(t)
	plain := t.TempDir()
	os.Chmod(plain, 0o755) // as the private root
	writeFiles(t, plain, randLower)
	writeFiles(t, plain, files{"u1": "upper\n"})
	for i, o := range ops {
		got, want := apply(w.mnt, o), apply(plain, o)
		if got != want {
			return fmt.Sprintf("op %d %v: ezfs %q, plain %q", i, o, got, want)
		}
	}
	if d := cmp.Diff(snapshotTree(plain), snapshotTree(w.mnt)); d != "" {
		return "final trees differ (-plain +ezfs):\n" + d
	}
	// Nothing reached the template.
	for p, data := range randLower {
		if got := readFile(t, filepath.Join(w.tmpl, "pkg", p)); got != data {
			return fmt.Sprintf("template file %s changed to %q", p, got)
		}
	}
	return ""
}

// shrink drops operations while the difference stays.
func shrink(t *testing.T, ops []op) []op {
	for i := 0; i < len(ops); {
		try := append(append([]op{}, ops[:i]...), ops[i+1:]...)
		if runBoth(t, try) != "" {
			ops = try
			continue
		}
		i++
	}
	return ops
}

func TestRandomOperations(t *testing.T) {
	seeds, n := 40, 200
	if testing.Short() {
		seeds = 3
	}
	for seed := 0; seed < seeds; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		var ops []op
		for i := 0; i < n; i++ {
			ops = append(ops, randomOp(r))
		}
		if diff := runBoth(t, ops); diff != "" {
			min := shrink(t, ops)
			var lines []string
			for _, o := range min {
				lines = append(lines, "  "+o.String())
			}
			t.Fatalf("seed %d: %s\nminimal sequence (%d ops):\n%s\nwhich gives: %s", seed, diff, len(min), strings.Join(lines, "\n"), runBoth(t, min))
		}
	}
}
