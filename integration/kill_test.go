package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// killAfter runs ezctl and kills it with SIGKILL after d (or lets it
// finish first). The delay is not synchronisation: it picks the point
// of the operation the kill lands on, a different one each time.
func (n *node) killAfter(t *testing.T, d time.Duration, args ...string) {
	t.Helper()
	cmd := exec.Command(ezctl, append([]string{"--vz", n.vz}, args...)...)
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Signal(unix.SIGKILL)
		<-done
	}
}

var killPoints = []time.Duration{time.Millisecond, 3 * time.Millisecond, 8 * time.Millisecond,
	15 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond}

func TestKillCommandsAtRandomPoints(t *testing.T) {
	n := ctNode(t)
	// More packages, so that the kills land inside the work.
	for i := 0; i < 30; i++ {
		writePackage(t, n.repo, pkg{name: fmt.Sprintf("extra%d", i), version: "1.0", files: files{fmt.Sprintf("usr/share/extra%d/data", i): strings.Repeat("x", 50000)}})
	}
	n.ok(t, "repo", "index", n.repo)
	var extras []string
	for i := 0; i < 30; i++ {
		extras = append(extras, fmt.Sprintf("extra%d", i))
	}
	writeTemplate(t, n.src, "demo/1/x86_64/config/os/big", files{"packages": strings.Join(extras, "\n") + "\n"})

	for i, d := range killPoints {
		t.Run(fmt.Sprint("template-install-", d), func(t *testing.T) {
			n.killAfter(t, d, "template", "install", n.src)
			var list []map[string]any
			must(t, json.Unmarshal([]byte(n.ok(t, "template", "list", "--json")), &list))
			n.ok(t, "template", "install", n.src)
		})
		t.Run(fmt.Sprint("cache-create-", d), func(t *testing.T) {
			cache := filepath.Join(n.area(), "cache", "demo-1-x86_64-big.tar.gz")
			verb := "create"
			if _, err := os.Stat(cache); err == nil {
				verb = "update"
			}
			n.killAfter(t, d, "cache", verb, "demo-1-x86_64-big")
			if _, err := os.Stat(cache); err == nil {
				readCache(t, cache) // whole, or not there at all
			}
			entries, _ := filepath.Glob(filepath.Join(n.area(), "demo/1/x86_64/*"))
			for _, e := range entries {
				base := filepath.Base(e)
				if base == "config" || base == "pm" || strings.HasPrefix(base, ".") {
					continue
				}
				if _, err := os.Stat(filepath.Join(e, ".ezfs/manifest")); err != nil {
					t.Errorf("package directory %s without its manifest after a kill", base)
				}
			}
			if _, err := os.Stat(cache); err != nil {
				n.ok(t, "cache", "create", "demo-1-x86_64-big")
			}
		})
		id := fmt.Sprint(200 + i)
		t.Run(fmt.Sprint("create-", d), func(t *testing.T) {
			n.killAfter(t, d, "create", id, "--ostemplate", "demo-1-x86_64-big")
			if _, err := os.Stat(n.priv(id)); err == nil {
				// Whole: records and tree.
				for _, f := range []string{"ve.conf", "templates/vzpackages", "root/usr/share/extra29/data"} {
					if _, err := os.Lstat(filepath.Join(n.priv(id), f)); err != nil {
						t.Errorf("container %s exists without %s", id, f)
					}
				}
			} else {
				if m, _ := filepath.Glob(filepath.Join(filepath.Dir(n.priv(id)), ".new-"+id+"-*")); len(m) > 0 {
					n.ok(t, "fsck", id) // removes the staging of the killed create
					if m, _ := filepath.Glob(filepath.Join(filepath.Dir(n.priv(id)), ".new-"+id+"-*")); len(m) > 0 {
						t.Errorf("fsck left %v", m)
					}
				}
				n.ok(t, "create", id, "--ostemplate", "demo-1-x86_64-big")
			}
			if out := n.ok(t, "fsck", id); !strings.Contains(out, "clean") {
				t.Errorf("fsck after create: %s", out)
			}
		})
	}
	// Updates killed at every point: a new version of every extra.
	for i := 0; i < 30; i++ {
		writePackage(t, n.repo, pkg{name: fmt.Sprintf("extra%d", i), version: "2.0", files: files{fmt.Sprintf("usr/share/extra%d/data", i): "v2\n"}})
	}
	n.ok(t, "repo", "index", n.repo)
	for i, d := range killPoints {
		id := fmt.Sprint(200 + i)
		t.Run(fmt.Sprint("update-", d), func(t *testing.T) {
			n.killAfter(t, d, "update", id)
			vp := readFile(t, filepath.Join(n.priv(id), "templates/vzpackages"))
			if strings.Contains(vp, "extra3 1.0") == strings.Contains(vp, "extra3 2.0") {
				t.Errorf("vzpackages is neither before nor after:\n%s", vp)
			}
			n.ok(t, "update", id) // finishes, or updates
			n.ok(t, "mount", id)
			defer n.ok(t, "umount", id)
			for _, k := range []int{0, 15, 29} {
				if got := readFile(t, filepath.Join(n.root(id), fmt.Sprintf("usr/share/extra%d/data", k))); got != "v2\n" {
					t.Errorf("extra%d after the re-run: %q", k, got[:min(len(got), 10)])
				}
			}
		})
	}
}
