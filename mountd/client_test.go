package mountd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// dyingDaemon listens on sock, takes one connection, and dies as the
// request arrives (a SIGKILL at the wrong moment): it closes the
// connection unanswered and stops listening. done is closed after that.
func dyingDaemon(t *testing.T, sock string) (done <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer l.Close()
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Read(make([]byte, 1)) // the request has started to arrive
		c.Close()
	}()
	return ch
}

// serveAt starts a daemon answering with h on sock, stopped when the
// test ends.
func serveAt(t *testing.T, sock string, h http.HandlerFunc) error {
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return nil
}

// TestClientSaysTheDaemonWentAway: a daemon that accepts a connection
// and dies before answering (a SIGKILL at the wrong moment) is reported
// as such, with what to do, not as a bare "connection reset by peer".
func TestClientSaysTheDaemonWentAway(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mountd.sock")
	done := dyingDaemon(t, sock)
	cl := NewClient(sock)
	_, err := cl.Status(context.Background())
	<-done
	if !errors.Is(err, ErrDaemonGone) || !strings.Contains(err.Error(), "run the command again") {
		t.Errorf("daemon closing mid-request: %v", err)
	}
	_, err = cl.Status(context.Background())
	if !errors.Is(err, ErrDaemonGone) || !strings.Contains(err.Error(), "no daemon listens") {
		t.Errorf("no daemon: %v", err)
	}
}

// TestClientRetriesOnANewDaemon: with Restart set, a request the dying
// daemon left unanswered goes to the daemon Restart starts.
func TestClientRetriesOnANewDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mountd.sock")
	dyingDaemon(t, sock)
	cl := NewClient(sock)
	restarts := 0
	cl.Restart = func() error {
		restarts++
		return serveAt(t, sock, func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(Status{PID: 42})
		})
	}
	st, err := cl.Status(context.Background())
	if err != nil || st.PID != 42 || restarts != 1 {
		t.Errorf("status %+v, %v after %d restarts; want pid 42 from the new daemon, 1 restart", st, err, restarts)
	}
}

// TestMountRetriedAfterItWasDone: the daemon that died had made the
// mount, and the new one brought it back; the retried request is told
// "already mounted", which Mount reports as the success it was.
func TestMountRetriedAfterItWasDone(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mountd.sock")
	dyingDaemon(t, sock)
	rec := Record{Template: "/t", Private: "/p", Mountpoint: "/m"}
	cl := NewClient(sock)
	cl.Restart = func() error {
		return serveAt(t, sock, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				writeError(w, fmt.Errorf("%w: /m", ErrAlreadyMounted))
				return
			}
			json.NewEncoder(w).Encode([]MountInfo{{Record: rec, Passthrough: true}})
		})
	}
	info, err := cl.Mount(context.Background(), rec)
	if err != nil || info.Mountpoint != "/m" || !info.Passthrough {
		t.Errorf("mount retried after it was done: %+v, %v", info, err)
	}
}
