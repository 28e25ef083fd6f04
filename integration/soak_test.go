//go:build soak

package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ezfs/ezfs/mountd"
	"github.com/google/go-cmp/cmp"
)

// The soak test: make soak. 8 processes in each of 4 mounted containers
// read, write, rename, create and delete for a bounded time; then every
// container must hold exactly what the processes' models say, shared
// template files must still read right, and the daemon must have given
// back every descriptor once the containers are unmounted.

const soakLower = "shared file of the template\n"

func init() {
	if dir := os.Getenv("EZFS_SOAK_WORKER"); dir != "" {
		seed, _ := strconv.Atoi(os.Getenv("EZFS_SOAK_SEED"))
		d, _ := time.ParseDuration(os.Getenv("EZFS_SOAK_FOR"))
		model, err := soakWorker(dir, uint64(seed), d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(model)
		os.Exit(0)
	}
}

// soakWorker works in its own directory of a container and returns what
// the directory must hold: file name -> contents.
func soakWorker(dir string, seed uint64, d time.Duration) (map[string]string, error) {
	r := rand.New(rand.NewPCG(seed, 1))
	root := filepath.Dir(dir)
	model := map[string]string{}
	names := func() string { return fmt.Sprintf("f%d", r.IntN(20)) }
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(d)
	for n := 0; time.Now().Before(deadline); n++ {
		name := names()
		p := filepath.Join(dir, name)
		switch r.IntN(6) {
		case 0: // create or replace
			data := strings.Repeat(fmt.Sprint(n), 1+r.IntN(200))
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				return nil, err
			}
			model[name] = data
		case 1: // append
			if _, ok := model[name]; !ok {
				continue
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return nil, err
			}
			f.WriteString("+")
			f.Close()
			model[name] += "+"
		case 2: // rename
			to := names()
			if _, ok := model[name]; !ok {
				continue
			}
			if err := os.Rename(p, filepath.Join(dir, to)); err != nil {
				return nil, err
			}
			if to != name {
				model[to] = model[name]
				delete(model, name)
			}
		case 3: // delete
			if _, ok := model[name]; !ok {
				continue
			}
			if err := os.Remove(p); err != nil {
				return nil, err
			}
			delete(model, name)
		case 4: // read back
			if want, ok := model[name]; ok {
				got, err := os.ReadFile(p)
				if err != nil || string(got) != want {
					return nil, fmt.Errorf("%s reads %q (%v), want %q", p, got, err, want)
				}
			}
		case 5: // the template's files, shared by everyone
			got, err := os.ReadFile(filepath.Join(root, "shared", fmt.Sprint("s", r.IntN(4))))
			if err != nil || string(got) != soakLower {
				return nil, fmt.Errorf("shared file reads %q (%v)", got, err)
			}
		}
	}
	return model, nil
}

func TestSoak(t *testing.T) {
	d := 60 * time.Second
	if s := os.Getenv("EZFS_SOAK_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	dm := startDaemon(t, filepath.Join(dir, "mountd.sock"))
	lower := files{}
	for i := 0; i < 4; i++ {
		lower[fmt.Sprintf("shared/s%d", i)] = soakLower
	}
	var cts []*ct
	for i := 0; i < 4; i++ {
		c := newCT(t, lower, nil)
		t.Cleanup(func() { testenv_unmount(t, c.mnt) })
		cts = append(cts, c)
	}
	pid := dm.cmd.Process.Pid
	fds0, rss0 := fdCount(pid), mustRSS(t, pid)
	cl := dm.client()
	for i, c := range cts {
		if _, err := cl.Mount(t.Context(), mountd.Record{ID: fmt.Sprint(i), Template: c.tmpl, Private: c.priv, Mountpoint: c.mnt}); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	must(t, err)
	var wg sync.WaitGroup
	models := make([][]map[string]string, len(cts))
	for i, c := range cts {
		models[i] = make([]map[string]string, 8)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(self, "-test.run=^$")
				cmd.Env = append(os.Environ(), "EZFS_SOAK_WORKER="+filepath.Join(c.mnt, fmt.Sprint("w", w)),
					fmt.Sprint("EZFS_SOAK_SEED=", i*100+w), "EZFS_SOAK_FOR="+d.String())
				out, err := cmd.Output()
				if err != nil {
					t.Errorf("container %d worker %d: %v", i, w, err)
					return
				}
				if err := json.Unmarshal(out, &models[i][w]); err != nil {
					t.Errorf("container %d worker %d: %v", i, w, err)
				}
			}()
		}
	}
	wg.Wait()
	rss1 := mustRSS(t, pid)
	for i, c := range cts {
		for w := 0; w < 8; w++ {
			got := map[string]string{}
			entries, err := os.ReadDir(filepath.Join(c.mnt, fmt.Sprint("w", w)))
			must(t, err)
			for _, e := range entries {
				got[e.Name()] = readFile(t, filepath.Join(c.mnt, fmt.Sprint("w", w), e.Name()))
			}
			if diff := cmp.Diff(models[i][w], got); diff != "" {
				t.Errorf("container %d worker %d: the tree differs from the model:\n%s", i, w, diff)
			}
		}
		for p, data := range lower {
			if got := readFile(t, filepath.Join(c.tmpl, "pkg", p)); got != data {
				t.Errorf("template file %s changed", p)
			}
		}
	}
	st, err := cl.Status(t.Context())
	must(t, err)
	var ops, errs int64
	for _, m := range st.Mounts {
		for _, n := range m.Ops {
			ops += n
		}
		errs += m.Stats.Errors
	}
	if errs != 0 {
		t.Errorf("the daemon logged %d internal errors", errs)
	}
	for _, c := range cts {
		must(t, cl.Unmount(t.Context(), c.mnt, false))
	}
	cl.Close()
	// The daemon closes its end of the connections we just dropped.
	deadline := time.Now().Add(5 * time.Second)
	for fdCount(pid) > fds0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fds1 := fdCount(pid)
	t.Logf("REPORT soak %v: 32 processes in 4 containers, %d FUSE requests; mountd fds %d before, %d after unmounting; RSS %d KiB before, %d KiB under load, %d KiB after",
		d, ops, fds0, fds1, rss0>>10, rss1>>10, mustRSS(t, pid)>>10)
	if fds1 > fds0 {
		t.Errorf("mountd holds %d descriptors after unmounting everything, %d before: a leak:\n%s", fds1, fds0, fdList(pid))
	}
}

func fdList(pid int) string {
	es, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var out []string
	for _, e := range es {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		out = append(out, e.Name()+" -> "+l)
	}
	return strings.Join(out, "\n")
}

func fdCount(pid int) int {
	es, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es)
}

func mustRSS(t *testing.T, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(t, err)
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}
