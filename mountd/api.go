package mountd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ezfs/ezfs/internal/mountinfo"
	"golang.org/x/sys/unix"
)

// apiError is the JSON body of every error answer.
type apiError struct {
	Error   string             `json:"error"`
	Code    string             `json:"code"`
	Holders []mountinfo.Holder `json:"holders,omitempty"`
}

var errorCodes = []struct {
	err    error
	code   string
	status int
}{
	{ErrNotMounted, "not_found", http.StatusNotFound},
	{ErrAlreadyMounted, "already_mounted", http.StatusConflict},
	{ErrBusy, "busy", http.StatusConflict},
	{ErrBadRequest, "bad_request", http.StatusBadRequest},
	{ErrForbidden, "forbidden", http.StatusForbidden},
}

func writeError(w http.ResponseWriter, err error) {
	body := apiError{Error: err.Error(), Code: "internal"}
	status := http.StatusInternalServerError
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			body.Code, status = c.code, c.status
			break
		}
	}
	var be *BusyError
	if errors.As(err, &be) {
		body.Holders = be.Holders
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Status is the answer of GET /v1/status.
type Status struct {
	PID     int         `json:"pid"`
	Started time.Time   `json:"started"`
	Socket  string      `json:"socket"`
	State   string      `json:"state"`
	Mounts  []MountInfo `json:"mounts"`
}

// UnmountRequest is the body of POST /v1/unmount.
type UnmountRequest struct {
	Mountpoint string `json:"mountpoint"`
	Lazy       bool   `json:"lazy,omitempty"`
}

// InvalidateRequest is the body of POST /v1/invalidate.
type InvalidateRequest struct {
	Mountpoint string   `json:"mountpoint"`
	Paths      []string `json:"paths"`
}

type credKey struct{}

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
			writeError(w, fmt.Errorf("%w: %v", ErrBadRequest, err))
			return false
		}
		return true
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Status{PID: os.Getpid(), Started: d.started, Socket: d.opts.Socket, State: d.opts.State, Mounts: d.Mounts()})
	})
	mux.HandleFunc("GET /v1/mounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Mounts())
	})
	mux.HandleFunc("POST /v1/mounts", func(w http.ResponseWriter, r *http.Request) {
		var rec Record
		if !decode(w, r, &rec) {
			return
		}
		info, err := d.Mount(rec)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, info)
	})
	mux.HandleFunc("POST /v1/unmount", func(w http.ResponseWriter, r *http.Request) {
		var req UnmountRequest
		if !decode(w, r, &req) {
			return
		}
		if err := d.Unmount(req.Mountpoint, req.Lazy); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"unmounted": req.Mountpoint})
	})
	mux.HandleFunc("POST /v1/invalidate", func(w http.ResponseWriter, r *http.Request) {
		var req InvalidateRequest
		if !decode(w, r, &req) {
			return
		}
		if err := d.Invalidate(req.Mountpoint, req.Paths); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"invalidated": len(req.Paths)})
	})
	// Profiles of the daemon (go tool pprof), behind the same root-only
	// check as everything else.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, _ := r.Context().Value(credKey{}).(*unix.Ucred)
		if cred == nil || cred.Uid != 0 {
			uid := -1
			if cred != nil {
				uid = int(cred.Uid)
			}
			d.log.Warn("refused a non-root peer", "uid", uid)
			writeError(w, fmt.Errorf("%w: mountd answers root only (peer uid %d)", ErrForbidden, uid))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// peerCred reads the credentials of a unix socket peer.
func peerCred(c net.Conn) *unix.Ucred {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cred
}

// listen makes the socket: its directory root-only, any stale socket of a
// dead daemon replaced, a live daemon's refused.
func listen(socket string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(socket), 0o700); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", socket, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("mountd is running already on %s", socket)
	}
	os.Remove(socket)
	// The socket is born 0600: a chmod after listen would leave a moment
	// in which a client that found it could change its mode first.
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", socket)
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Run serves the daemon until SIGTERM or SIGINT (or ctx ends): it
// recovers the recorded mounts, listens, says it is ready (systemd
// sd_notify, if asked), and at the end unmounts everything.
func (d *Daemon) Run(ctx context.Context) error {
	l, err := listen(d.opts.Socket)
	if err != nil {
		return err
	}
	tuneMemory()
	d.recover()
	stopTrim, tick := make(chan struct{}), time.NewTicker(trimTick)
	defer tick.Stop()
	defer close(stopTrim)
	go d.trim.run(stopTrim, tick.C)
	srv := &http.Server{
		Handler: d.handler(),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, credKey{}, peerCred(c))
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	d.log.Info("mountd ready", "socket", d.opts.Socket, "state", d.opts.State, "pid", os.Getpid(), "mounts", len(d.Mounts()))
	notifyReady()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	select {
	case s := <-sigs:
		d.log.Info("stopping", "signal", s.String())
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	notify("STOPPING=1")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	d.shutdown()
	os.Remove(d.opts.Socket)
	d.log.Info("stopped")
	return nil
}
