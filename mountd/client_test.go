package mountd

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientSaysTheDaemonWentAway: a daemon that accepts a connection
// and dies before answering (a SIGKILL at the wrong moment) is reported
// as such, with what to do, not as a bare "connection reset by peer".
func TestClientSaysTheDaemonWentAway(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mountd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1)
		c.Read(buf) // the request has started to arrive
		c.Close()
	}()
	cl := NewClient(sock)
	_, err = cl.Status(context.Background())
	<-done
	if !errors.Is(err, ErrDaemonGone) || !strings.Contains(err.Error(), "run the command again") {
		t.Errorf("daemon closing mid-request: %v", err)
	}
	l.Close()
	_, err = cl.Status(context.Background())
	if !errors.Is(err, ErrDaemonGone) || !strings.Contains(err.Error(), "no daemon listens") {
		t.Errorf("no daemon: %v", err)
	}
}
