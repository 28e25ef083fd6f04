package mountd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ezfs/ezfs/internal/mountinfo"
)

// Client talks to a daemon over its socket.
type Client struct {
	Socket string
	// Restart, if set, starts a new daemon. A request the daemon left
	// unanswered because it died (a SIGKILL, a crash) is then sent once
	// more, to the new one: the old one took whatever it had done with
	// it, and the new one recovers the recorded mounts first.
	Restart func() error
	hc      *http.Client
}

// NewClient returns a client for the daemon at socket.
func NewClient(socket string) *Client {
	return &Client{Socket: socket, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// APIError is an error answer of the daemon. errors.Is matches it
// against the package's sentinels by its code.
type APIError struct {
	Message string
	Code    string
	Holders []mountinfo.Holder
}

func (e *APIError) Error() string { return e.Message }

func (e *APIError) Is(target error) bool {
	for _, c := range errorCodes {
		if c.err == target {
			return c.code == e.Code
		}
	}
	return false
}

// Close drops the client's idle connections to the daemon.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Alive reports whether a daemon answers on the socket.
func (c *Client) Alive() bool {
	conn, err := net.DialTimeout("unix", c.Socket, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	_, err := c.call(ctx, method, path, in, out)
	return err
}

// call is do, and says whether the request went to a new daemon after
// the first one died under it.
func (c *Client) call(ctx context.Context, method, path string, in, out any) (retried bool, err error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return false, err
		}
		body = b
	}
	resp, err := c.send(ctx, method, path, body)
	if err != nil && errors.Is(err, ErrDaemonGone) && c.Restart != nil {
		if rerr := c.restart(ctx); rerr != nil {
			return false, fmt.Errorf("%w; starting a new one: %v", err, rerr)
		}
		retried = true
		resp, err = c.send(ctx, method, path, body)
	}
	if err != nil {
		return retried, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return retried, err
	}
	if resp.StatusCode >= 300 {
		var ae apiError
		if json.Unmarshal(data, &ae) != nil || ae.Error == "" {
			return retried, fmt.Errorf("mountd: %s: %s", resp.Status, bytes.TrimSpace(data))
		}
		return retried, &APIError{Message: ae.Error, Code: ae.Code, Holders: ae.Holders}
	}
	if out != nil {
		return retried, json.Unmarshal(data, out)
	}
	return retried, nil
}

func (c *Client) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://mountd"+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	return resp, nil
}

// restart waits for a dying daemon to let go of its socket (its last
// thread may still be finishing a system call) and starts a new one,
// unless one answers already (systemd's, or another ezctl's).
func (c *Client) restart(ctx context.Context) error {
	c.hc.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if !c.Alive() {
			err := c.Restart()
			if err != nil && c.Alive() {
				err = nil // another one started it meanwhile
			}
			return err
		}
		if resp, err := c.send(ctx, http.MethodGet, "/v1/status", nil); err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the old daemon still holds %s after 30 s", c.Socket)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ErrDaemonGone is a request the daemon did not answer: it was not
// running, or it stopped or crashed while the request was on its way.
var ErrDaemonGone = errors.New("mountd did not answer")

// transportError says what a failed exchange with the daemon means for
// the user: a daemon that went away between the check that it runs and
// the request shows as a reset connection, which alone says nothing.
func (c *Client) transportError(err error) error {
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the daemon at %s closed the connection without answering, so it stopped or crashed meanwhile "+
			"(its log is mountd.log beside the socket); run the command again, which starts a new one (%v)", ErrDaemonGone, c.Socket, err)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w: no daemon listens on %s; run the command again, which starts one (%v)", ErrDaemonGone, c.Socket, err)
	}
	return fmt.Errorf("mountd at %s: %w", c.Socket, err)
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
}

// Mount asks the daemon to mount rec.
func (c *Client) Mount(ctx context.Context, rec Record) (*MountInfo, error) {
	var info MountInfo
	retried, err := c.call(ctx, http.MethodPost, "/v1/mounts", rec, &info)
	if retried && errors.Is(err, ErrAlreadyMounted) {
		// The daemon that died had made and recorded the mount, and the
		// new one brought it back: the request did what it asked.
		var mounts []MountInfo
		if c.do(ctx, http.MethodGet, "/v1/mounts", nil, &mounts) == nil {
			for _, m := range mounts {
				if m.Mountpoint == rec.Mountpoint && m.Private == rec.Private && m.Template == rec.Template {
					return &m, nil
				}
			}
		}
	}
	return &info, err
}

// Unmount asks the daemon to unmount a mountpoint.
func (c *Client) Unmount(ctx context.Context, mountpoint string, lazy bool) error {
	return c.do(ctx, http.MethodPost, "/v1/unmount", UnmountRequest{Mountpoint: mountpoint, Lazy: lazy}, nil)
}

// Invalidate asks the daemon to drop the kernel's caches of paths.
func (c *Client) Invalidate(ctx context.Context, mountpoint string, paths []string) error {
	return c.do(ctx, http.MethodPost, "/v1/invalidate", InvalidateRequest{Mountpoint: mountpoint, Paths: paths}, nil)
}

// Start runs `exe --socket socket mountd` detached, logging to logPath,
// and returns once it answers (or says why it could not start).
func Start(socket, exe, logPath string) error {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("mountd log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, "--socket", socket, "mountd")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mountd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := NewClient(socket)
	deadline := time.Now().Add(15 * time.Second)
	for !c.Alive() {
		select {
		case err := <-exited:
			return fmt.Errorf("mountd exited at once (%v); see %s", err, logPath)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mountd did not answer on %s within 15 s; see %s", socket, logPath)
		}
	}
	return nil
}
