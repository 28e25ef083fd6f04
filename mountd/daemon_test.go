package mountd

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ezfs/ezfs/fs"
)

// TestSlowMountStallsNothingElse: while the kernel takes its time over
// one mount, status and mounts elsewhere are answered, and a second
// request for the same mountpoint is refused rather than raced.
func TestSlowMountStallsNothingElse(t *testing.T) {
	dir := t.TempDir()
	d := New(Options{Socket: filepath.Join(dir, "mountd.sock"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	tmpl, priv := t.TempDir(), t.TempDir()
	slow, other := t.TempDir(), t.TempDir()

	entered, release := make(chan struct{}), make(chan struct{})
	errSlow, errOther := errors.New("slow mount gave up"), errors.New("other mount failed")
	mountFS = func(mnt string, _ fs.Options) (*fs.Server, error) {
		if mnt == slow {
			close(entered)
			<-release
			return nil, errSlow
		}
		return nil, errOther
	}
	t.Cleanup(func() { mountFS = fs.Mount })

	first := make(chan error, 1)
	go func() {
		_, err := d.Mount(Record{Template: tmpl, Private: priv, Mountpoint: slow})
		first <- err
	}()
	<-entered

	answered := make(chan []MountInfo, 1)
	go func() { answered <- d.Mounts() }()
	select {
	case got := <-answered:
		if len(got) != 0 {
			t.Errorf("status lists %d mounts while none has finished", len(got))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("status waited for a mount in progress")
	}
	if _, err := d.Mount(Record{Template: tmpl, Private: priv, Mountpoint: slow}); !errors.Is(err, ErrAlreadyMounted) {
		t.Errorf("second mount of the same mountpoint: %v, want ErrAlreadyMounted", err)
	}
	if _, err := d.Mount(Record{Template: tmpl, Private: priv, Mountpoint: other}); !errors.Is(err, errOther) {
		t.Errorf("mount elsewhere while one is slow: %v, want it tried", err)
	}

	close(release)
	if err := <-first; !errors.Is(err, errSlow) {
		t.Errorf("slow mount: %v", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.reserved) != 0 || len(d.templates) != 0 {
		t.Errorf("after failed mounts: reserved %v, %d template areas still open", d.reserved, len(d.templates))
	}
}
