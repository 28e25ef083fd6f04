package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/mountd"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// daemonFor gives a test a mountd of its own (its own socket and state).
type daemonFor struct {
	socket string
	cmd    *exec.Cmd
}

func startDaemon(t *testing.T, socket string) *daemonFor {
	t.Helper()
	d := &daemonFor{socket: socket}
	d.cmd = exec.Command(ezctl, "--socket", socket, "mountd")
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(socket), "mountd.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	must(t, err)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	must(t, d.cmd.Start())
	logf.Close()
	c := mountd.NewClient(socket)
	waitFor(t, "mountd to answer", 15*time.Second, c.Alive)
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Signal(unix.SIGTERM)
			d.cmd.Wait()
		}
	})
	return d
}

func (d *daemonFor) client() *mountd.Client { return mountd.NewClient(d.socket) }

func (d *daemonFor) kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	must(t, d.cmd.Process.Signal(sig))
	d.cmd.Wait()
}

// threeMounts makes three private trees over one template and mounts
// them through d.
func threeMounts(t *testing.T, d *daemonFor) []*ct {
	var cts []*ct
	for i := 0; i < 3; i++ {
		c := newCT(t, files{"big": strings.Repeat("0123456789abcdef", 1<<16), "etc/hosts": "hosts\n"}, files{"own": "mine\n"})
		_, err := d.client().Mount(context.Background(), mountd.Record{ID: string(rune('a' + i)), Template: c.tmpl, Private: c.priv, Mountpoint: c.mnt})
		must(t, err)
		t.Cleanup(func() { testenv_unmount(t, c.mnt) })
		cts = append(cts, c)
	}
	return cts
}

func testenv_unmount(t *testing.T, mnt string) {
	if err := unix.Unmount(mnt, 0); err != nil && err != unix.EINVAL {
		unix.Unmount(mnt, unix.MNT_DETACH)
	}
}

func TestMountdSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, filepath.Join(dir, "mountd.sock"))
	cts := threeMounts(t, d)
	before := map[string]map[string]string{}
	for _, c := range cts {
		before[c.priv] = snapshot(t, c.priv)
	}
	// A process reads in the first container while the daemon dies.
	reader := exec.Command("sh", "-c", "while cat \"$1\" >/dev/null; do :; done", "sh", filepath.Join(cts[0].mnt, "big"))
	must(t, reader.Start())
	d.kill(t, unix.SIGKILL)
	reader.Wait() // its reads fail once the daemon is gone
	for _, c := range cts {
		if !mountinfo.Dead(c.mnt) {
			t.Errorf("%s is not dead after SIGKILL", c.mnt)
		}
	}
	d = startDaemon(t, d.socket)
	st, err := d.client().Status(context.Background())
	must(t, err)
	if len(st.Mounts) != 3 {
		t.Fatalf("after restart mountd serves %d mounts, want 3", len(st.Mounts))
	}
	for _, c := range cts {
		if got := readFile(t, filepath.Join(c.mnt, "etc/hosts")); got != "hosts\n" {
			t.Errorf("%s: %q", c.mnt, got)
		}
		if got := readFile(t, filepath.Join(c.mnt, "own")); got != "mine\n" {
			t.Errorf("%s: %q", c.mnt, got)
		}
		if d := cmp.Diff(before[c.priv], snapshot(t, c.priv)); d != "" {
			t.Errorf("private area %s changed:\n%s", c.priv, d)
		}
	}
}

func TestMountdSIGTERMWithBusyMount(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, filepath.Join(dir, "mountd.sock"))
	cts := threeMounts(t, d)
	busy := exec.Command("sleep", "300")
	busy.Dir = cts[1].mnt
	must(t, busy.Start())
	defer busy.Process.Kill()
	// An unmount while busy is refused, naming the holder.
	err := d.client().Unmount(context.Background(), cts[1].mnt, false)
	var ae *mountd.APIError
	if !errors.As(err, &ae) || ae.Code != "busy" || len(ae.Holders) == 0 || ae.Holders[0].PID != busy.Process.Pid {
		t.Errorf("unmount of a busy mount: %v %+v", err, ae)
	}
	start := time.Now()
	d.kill(t, unix.SIGTERM)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("SIGTERM with a busy mount took %v", took)
	}
	for _, c := range cts {
		if _, ok, _ := mountinfo.Find(c.mnt); ok {
			t.Errorf("%s still mounted after SIGTERM", c.mnt)
		}
	}
	busy.Process.Kill()
	busy.Wait()
	// The list was kept: a new daemon mounts the same again.
	d = startDaemon(t, d.socket)
	st, err := d.client().Status(context.Background())
	must(t, err)
	if len(st.Mounts) != 3 {
		t.Errorf("after SIGTERM and restart: %d mounts, want 3", len(st.Mounts))
	}
}

func TestMountdAPIErrors(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, filepath.Join(dir, "mountd.sock"))
	c := newCT(t, files{"a": "A"}, nil)
	rec := mountd.Record{Template: c.tmpl, Private: c.priv, Mountpoint: c.mnt}
	ctx := context.Background()
	_, err := d.client().Mount(ctx, rec)
	must(t, err)
	t.Cleanup(func() { testenv_unmount(t, c.mnt) })
	raw := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", d.socket)
	}}}
	post := func(path string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		resp, err := raw.Post("http://mountd"+path, "application/json", bytes.NewReader(b))
		must(t, err)
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s: not JSON: %s", path, data)
		}
		return resp.StatusCode, out
	}
	// The same mount again is no error: it is there.
	if status, body := post("/v1/mounts", rec); status != 201 || body["mountpoint"] != c.mnt {
		t.Errorf("the same mount again: %d %v", status, body)
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"another tree on a busy mountpoint", "/v1/mounts", mountd.Record{Template: c.tmpl, Private: c.tmpl, Mountpoint: c.mnt}, 409, "already_mounted"},
		{"unmount of nothing", "/v1/unmount", mountd.UnmountRequest{Mountpoint: "/nowhere"}, 404, "not_found"},
		{"invalidate unknown", "/v1/invalidate", mountd.InvalidateRequest{Mountpoint: "/nowhere"}, 404, "not_found"},
		{"relative path", "/v1/mounts", mountd.Record{Template: "t", Private: "p", Mountpoint: "m"}, 400, "bad_request"},
		{"missing private", "/v1/mounts", mountd.Record{Template: c.tmpl, Private: "/no/such", Mountpoint: dir}, 400, "bad_request"},
		{"malformed", "/v1/mounts", "not a record", 400, "bad_request"},
	} {
		status, body := post(tc.path, tc.body)
		if status != tc.status || body["code"] != tc.code || body["error"] == "" {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
}

func TestMountdRefusesNonRoot(t *testing.T) {
	dir, err := os.MkdirTemp("", "ezfs-it-nonroot-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	d := startDaemon(t, filepath.Join(dir, "mountd.sock"))
	// Open the socket to everyone, so that the daemon's own check shows.
	must(t, os.Chmod(d.socket, 0o666))
	bin := filepath.Join(dir, "ezctl")
	data, err := os.ReadFile(ezctl)
	must(t, err)
	must(t, os.WriteFile(bin, data, 0o755))
	cmd := exec.Command(bin, "--socket", d.socket, "mountd", "status", "--json")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "mountd answers root only (peer uid 65534)") {
		t.Errorf("a non-root peer: %v\n%s", err, out)
	}
}
