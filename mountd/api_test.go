package mountd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/internal/testenv"
	"golang.org/x/sys/unix"
)

// daemonEnv is a daemon served in this process on a socket of its own,
// with a template area, a private tree holding "f", and two mountpoints.
type daemonEnv struct {
	sock, state        string
	tmpl, priv, m1, m2 string
	cl                 *Client
	stop               func()
}

func newDaemonEnv(t *testing.T) *daemonEnv {
	t.Helper()
	testenv.RequireFUSE(t)
	dir := t.TempDir()
	e := &daemonEnv{sock: filepath.Join(dir, "run", "mountd.sock"), tmpl: t.TempDir(), priv: t.TempDir(),
		m1: t.TempDir(), m2: t.TempDir()}
	e.state = StatePath(e.sock)
	if err := os.WriteFile(filepath.Join(e.priv, "f"), []byte("private\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{e.m1, e.m2} {
		t.Cleanup(func() { testenv.Unmount(t, m) })
	}
	e.start(t)
	return e
}

// start runs a daemon on e's socket until stop, and waits until it
// answers.
func (e *daemonEnv) start(t *testing.T) {
	t.Helper()
	d := New(Options{Socket: e.sock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	e.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
		e.stop = func() {}
	}
	t.Cleanup(func() { e.stop() })
	e.cl = NewClient(e.sock)
	t.Cleanup(e.cl.Close)
	waitFor(t, "the daemon to answer", e.cl.Alive)
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *daemonEnv) recorded(t *testing.T) []string {
	t.Helper()
	recs, err := loadState(e.state)
	if err != nil {
		t.Fatal(err)
	}
	var mps []string
	for _, r := range recs {
		mps = append(mps, r.Mountpoint)
	}
	return mps
}

func (e *daemonEnv) served() []string {
	ms, err := e.cl.Status(context.Background())
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	var mps []string
	for _, m := range ms.Mounts {
		mps = append(mps, m.Mountpoint)
	}
	return mps
}

func (e *daemonEnv) rec(mnt string) Record {
	return Record{ID: "101", Template: e.tmpl, Private: e.priv, Mountpoint: mnt}
}

// TestDaemonAPI runs one daemon through a script of requests, each
// with the error it must answer and what must hold afterwards.
func TestDaemonAPI(t *testing.T) {
	e := newDaemonEnv(t)
	ctx := context.Background()
	var busy *os.File
	steps := []struct {
		name  string
		do    func() error
		want  error         // sentinel the answer matches; nil: success
		check func() string // "" when what must hold holds
	}{
		{name: "status of an idle daemon", do: func() error {
			st, err := e.cl.Status(ctx)
			if err == nil && (st.PID != os.Getpid() || st.Socket != e.sock || len(st.Mounts) != 0) {
				t.Errorf("status %+v", st)
			}
			if fi, err := os.Stat(e.sock); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("socket mode %v, %v; want 0600", fi.Mode(), err)
			}
			return err
		}},
		{name: "relative path", want: ErrBadRequest, do: func() error {
			_, err := e.cl.Mount(ctx, Record{Template: "t", Private: e.priv, Mountpoint: e.m1})
			return err
		}},
		{name: "private tree is a file", want: ErrBadRequest, do: func() error {
			_, err := e.cl.Mount(ctx, Record{Template: e.tmpl, Private: filepath.Join(e.priv, "f"), Mountpoint: e.m1})
			return err
		}},
		{name: "mount", do: func() error {
			info, err := e.cl.Mount(ctx, e.rec(e.m1))
			if err == nil && (info.Mountpoint != e.m1 || info.ID != "101") {
				t.Errorf("mount answered %+v", info)
			}
			return err
		}, check: func() string {
			if b, err := os.ReadFile(filepath.Join(e.m1, "f")); string(b) != "private\n" {
				return "the mount does not show the private tree: " + string(b) + " " + errString(err)
			}
			if _, ok, _ := mountinfo.Find(e.m1); !ok {
				return "not in mountinfo"
			}
			return sameList(e.recorded(t), e.m1)
		}},
		{name: "the same mount again", do: func() error { _, err := e.cl.Mount(ctx, e.rec(e.m1)); return err }},
		{name: "another tree on the mountpoint", want: ErrAlreadyMounted, do: func() error {
			r := e.rec(e.m1)
			r.Private = e.m2
			_, err := e.cl.Mount(ctx, r)
			return err
		}},
		{name: "invalidate", do: func() error { return e.cl.Invalidate(ctx, e.m1, []string{"f"}) }},
		{name: "invalidate nothing mounted", want: ErrNotMounted, do: func() error { return e.cl.Invalidate(ctx, e.m2, nil) }},
		{name: "unmount nothing mounted", want: ErrNotMounted, do: func() error { return e.cl.Unmount(ctx, e.m2, false) }},
		{name: "unmount while in use", want: ErrBusy, do: func() error {
			var err error
			if busy, err = os.Open(filepath.Join(e.m1, "f")); err != nil {
				t.Fatal(err)
			}
			// The holder is this process, the daemon's own, which
			// Holders leaves out: the answer says so and how to go on.
			err = e.cl.Unmount(ctx, e.m1, false)
			if err != nil && !strings.Contains(err.Error(), "--lazy") {
				t.Errorf("busy answer does not say what to do: %v", err)
			}
			return err
		}, check: func() string { return sameList(e.served(), e.m1) }},
		{name: "lazy unmount while in use", do: func() error { return e.cl.Unmount(ctx, e.m1, true) },
			check: func() string {
				// Detached: no longer recorded, served until its last user goes.
				if msg := sameList(e.recorded(t)); msg != "" {
					return msg
				}
				busy.Close()
				waitFor(t, "the detached mount to end", func() bool { return len(e.served()) == 0 })
				return ""
			}},
		{name: "mount the second", do: func() error { _, err := e.cl.Mount(ctx, e.rec(e.m2)); return err },
			check: func() string { return sameList(e.recorded(t), e.m2) }},
		{name: "stop keeps the record", do: func() error { e.stop(); return nil }, check: func() string {
			if _, ok, _ := mountinfo.Find(e.m2); ok {
				return "still mounted after the daemon stopped"
			}
			return sameList(e.recorded(t), e.m2)
		}},
		{name: "a new daemon recovers it", do: func() error { e.start(t); return nil }, check: func() string {
			if msg := sameList(e.served(), e.m2); msg != "" {
				return msg
			}
			_, err := os.Stat(filepath.Join(e.m2, "f"))
			return errString(err)
		}},
		{name: "a second daemon on the socket", want: errRunning, do: func() error {
			err := New(Options{Socket: e.sock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Run(ctx)
			if err != nil && strings.Contains(err.Error(), errRunning.Error()) {
				return errRunning
			}
			return err
		}},
		{name: "unmount", do: func() error { return e.cl.Unmount(ctx, e.m2, false) }, check: func() string {
			if _, ok, _ := mountinfo.Find(e.m2); ok {
				return "still mounted"
			}
			return sameList(e.recorded(t))
		}},
	}
	for _, s := range steps {
		err := s.do()
		if !errors.Is(err, s.want) || (err == nil) != (s.want == nil) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
		if s.check != nil {
			if msg := s.check(); msg != "" {
				t.Fatalf("%s: %s", s.name, msg)
			}
		}
	}
}

// errRunning stands for the refusal of a second daemon, which has no
// sentinel: matched by its text.
var errRunning = errors.New("mountd is running already")

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func sameList(got []string, want ...string) string {
	if strings.Join(got, " ") != strings.Join(want, " ") {
		return "got [" + strings.Join(got, " ") + "], want [" + strings.Join(want, " ") + "]"
	}
	return ""
}

// TestHandlerRefusals: requests a daemon answers without touching a
// mount, through its handler.
func TestHandlerRefusals(t *testing.T) {
	d := New(Options{Socket: filepath.Join(t.TempDir(), "s"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := d.handler()
	root := context.WithValue(context.Background(), credKey{}, rootCred())
	for _, tc := range []struct {
		name, method, path, body string
		ctx                      context.Context
		status                   int
		code                     string
	}{
		{"no credentials", "GET", "/v1/status", "", context.Background(), http.StatusForbidden, "forbidden"},
		{"a user", "GET", "/v1/status", "", context.WithValue(context.Background(), credKey{}, userCred()), http.StatusForbidden, "forbidden"},
		{"status", "GET", "/v1/status", "", root, http.StatusOK, ""},
		{"mounts", "GET", "/v1/mounts", "", root, http.StatusOK, ""},
		{"broken JSON", "POST", "/v1/mounts", "{", root, http.StatusBadRequest, "bad_request"},
		{"relative paths", "POST", "/v1/mounts", `{"template":"t","private":"p","mountpoint":"m"}`, root, http.StatusBadRequest, "bad_request"},
		{"unmount unknown", "POST", "/v1/unmount", `{"mountpoint":"/nowhere"}`, root, http.StatusNotFound, "not_found"},
		{"unmount broken", "POST", "/v1/unmount", `[`, root, http.StatusBadRequest, "bad_request"},
		{"invalidate unknown", "POST", "/v1/invalidate", `{"mountpoint":"/nowhere"}`, root, http.StatusNotFound, "not_found"},
		{"invalidate broken", "POST", "/v1/invalidate", `1`, root, http.StatusBadRequest, "bad_request"},
		{"unknown path", "GET", "/v2/x", "", root, http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)).WithContext(tc.ctx)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.code != "" {
				var ae apiError
				if err := json.Unmarshal(w.Body.Bytes(), &ae); err != nil || ae.Code != tc.code {
					t.Errorf("body %s, want code %s", w.Body, tc.code)
				}
			}
		})
	}
}

func TestStopping(t *testing.T) {
	d := New(Options{Socket: filepath.Join(t.TempDir(), "s"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	d.shutdown()
	if _, err := d.Mount(Record{Template: "/t", Private: "/p", Mountpoint: "/m"}); err == nil || !strings.Contains(err.Error(), "stopping") {
		t.Errorf("mount while stopping: %v", err)
	}
}

func rootCred() *unix.Ucred { return &unix.Ucred{Pid: 1, Uid: 0, Gid: 0} }
func userCred() *unix.Ucred { return &unix.Ucred{Pid: 1, Uid: 1000, Gid: 1000} }
