package linkattr

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/ezfs/ezfs/internal/testenv"
	"github.com/ezfs/ezfs/internal/xattrat"
	"golang.org/x/sys/unix"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"pkg/bash/5.2/bin/bash", true},
		{"a", true},
		{"a/b.c/..d", true},
		{strings.Repeat("a", MaxValue), true},
		{"", false},
		{strings.Repeat("a", MaxValue+1), false},
		{"/etc/passwd", false},
		{"a/../../etc", false},
		{"..", false},
		{"./a", false},
		{"a//b", false},
		{"a/", false},
		{"a\x00b", false},
	} {
		err := Check(tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%.40q) = %v, want ok=%v", tc.value, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadLink) {
			t.Errorf("Check(%.40q) = %v, not ErrBadLink", tc.value, err)
		}
	}
}

func TestIsOurs(t *testing.T) {
	for attr, want := range map[string]bool{
		Name: true, "trusted.ezfs.other": true, "trusted.ezfs": false,
		"trusted.overlay.opaque": false, "user.ezfs.link": false,
	} {
		if IsOurs(attr) != want {
			t.Errorf("IsOurs(%q) = %v", attr, !want)
		}
	}
}

// dir makes a directory with a plain file "plain", a link "link" and a
// symlink "sym" to the link, and returns an O_PATH fd of it.
func dir(t *testing.T) (string, int) {
	t.Helper()
	testenv.RequireRoot(t)
	d := t.TempDir()
	for _, n := range []string{"plain", "link"} {
		if err := os.WriteFile(filepath.Join(d, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("link", filepath.Join(d, "sym")); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := SetAt(fd, "link", "pkg/f"); err != nil {
		t.Fatalf("set: %v", err)
	}
	return d, fd
}

func TestGetAt(t *testing.T) {
	_, dirfd := dir(t)
	for _, proc := range []bool{false, true} {
		xattrat.UseProc(proc)
		t.Cleanup(func() { xattrat.UseProc(false) })
		for _, tc := range []struct {
			name  string
			value string
			ok    bool
			err   bool
		}{
			{name: "link", value: "pkg/f", ok: true},
			{name: "plain"},
			{name: "sym"}, // a symlink is not followed: it carries nothing
			{name: "missing", err: true},
		} {
			v, ok, err := GetAt(dirfd, tc.name)
			if v != tc.value || ok != tc.ok || (err != nil) != tc.err {
				t.Errorf("proc=%v: GetAt(%s) = %q, %v, %v", proc, tc.name, v, ok, err)
			}
			if has, err := HasAt(dirfd, tc.name); has != tc.ok || err != nil {
				t.Errorf("proc=%v: HasAt(%s) = %v, %v", proc, tc.name, has, err)
			}
		}
	}
}

func TestSetRefusesBadValues(t *testing.T) {
	_, dirfd := dir(t)
	for _, v := range []string{"", "/abs", "a/../b"} {
		if err := SetAt(dirfd, "plain", v); !errors.Is(err, ErrBadLink) {
			t.Errorf("SetAt(%q) = %v, want ErrBadLink", v, err)
		}
	}
	if _, ok, _ := GetAt(dirfd, "plain"); ok {
		t.Error("a refused value was written")
	}
}

func TestFdCalls(t *testing.T) {
	d, _ := dir(t)
	f, err := os.OpenFile(filepath.Join(d, "plain"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	steps := []struct {
		do    func() error
		value string
		has   bool
	}{
		{do: func() error { return nil }},
		{do: func() error { return Set(fd, "a/b") }, value: "a/b", has: true},
		{do: func() error { return Set(fd, strings.Repeat("x/", 1000)+"y") }, value: strings.Repeat("x/", 1000) + "y", has: true},
		{do: func() error { return Remove(fd) }},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		v, ok, err := Get(fd)
		if err != nil || v != s.value || ok != s.has {
			t.Errorf("step %d: Get = %.20q, %v, %v", i, v, ok, err)
		}
		if has, err := Has(fd); err != nil || has != s.has {
			t.Errorf("step %d: Has = %v, %v", i, has, err)
		}
	}
	if err := Remove(fd); err != unix.ENODATA {
		t.Errorf("removing a missing attribute: %v, want ENODATA", err)
	}
}

// TestGetSizes drives the buffer growth with a fake attribute of each
// size: the kernel answers ERANGE when the buffer is short.
func TestGetSizes(t *testing.T) {
	for _, size := range []int{1, 255, 256, 257, MaxValue, MaxValue + 1, 65536} {
		value := strings.Repeat("a", size)
		v, ok, err := get(func(buf []byte) (int, error) {
			if len(buf) < size {
				return 0, unix.ERANGE
			}
			return copy(buf, value), nil
		}, nil)
		if size > MaxValue {
			if !ok || !errors.Is(err, ErrBadLink) {
				t.Errorf("size %d: ok=%v err=%v, want ErrBadLink", size, ok, err)
			}
			continue
		}
		if v != value || !ok || err != nil {
			t.Errorf("size %d: got %d bytes, %v, %v", size, len(v), ok, err)
		}
	}
}

// TestGetInterned: a value intern knows comes back as intern's string,
// one it does not know as a copy.
func TestGetInterned(t *testing.T) {
	known := "usr/bin/known"
	intern := func(b []byte) string {
		if string(b) == known {
			return known
		}
		return ""
	}
	for _, value := range []string{known, "usr/bin/other"} {
		v, ok, err := get(func(buf []byte) (int, error) { return copy(buf, value), nil }, intern)
		if v != value || !ok || err != nil {
			t.Errorf("%q: got %q, %v, %v", value, v, ok, err)
		}
		if value == known && unsafe.StringData(v) != unsafe.StringData(known) {
			t.Errorf("%q: a copy, not the interned string", value)
		}
	}
}
