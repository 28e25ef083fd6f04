package atfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAt(t *testing.T) {
	failed := errors.New("fill failed")
	for _, tc := range []struct {
		name        string
		before      map[string]string // file contents; "->x" a symlink to x
		opts        WriteOptions
		fill        string
		fillErr     error
		renameFails bool
		after       map[string]string
		mode        os.FileMode
	}{
		{name: "new file", opts: WriteOptions{Mode: 0o640}, fill: "new",
			after: map[string]string{"t": "new"}, mode: 0o640},
		{name: "replaces a file", before: map[string]string{"t": "old"}, opts: WriteOptions{Mode: 0o600}, fill: "new",
			after: map[string]string{"t": "new"}, mode: 0o600},
		{name: "replaces a symlink, not its target", before: map[string]string{"t": "->victim", "victim": "v"},
			opts: WriteOptions{Mode: 0o644}, fill: "new", after: map[string]string{"t": "new", "victim": "v"}, mode: 0o644},
		{name: "keeps a backup", before: map[string]string{"t": "old", "t-old": "older"},
			opts: WriteOptions{Mode: 0o644, Backup: "t-old"}, fill: "new",
			after: map[string]string{"t": "new", "t-old": "old"}, mode: 0o644},
		{name: "backup of nothing", opts: WriteOptions{Mode: 0o644, Backup: "t-old"}, fill: "new",
			after: map[string]string{"t": "new"}, mode: 0o644},
		{name: "failure leaves the old file", before: map[string]string{"t": "old"},
			opts: WriteOptions{Mode: 0o644, Backup: "t-old"}, fill: "half", fillErr: failed,
			after: map[string]string{"t": "old"}},
		{name: "a directory in the way stays", before: map[string]string{"t/x": "x"},
			opts: WriteOptions{Mode: 0o644}, fill: "new", renameFails: true, after: map[string]string{"t/x": "x"}},
		{name: "debris of a crash is replaced", before: map[string]string{tempName("t"): "debris"},
			opts: WriteOptions{Mode: 0o644}, fill: "new", after: map[string]string{"t": "new"}, mode: 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			for n, c := range tc.before {
				var err error
				if err := os.MkdirAll(filepath.Dir(filepath.Join(d, n)), 0o755); err != nil {
					t.Fatal(err)
				}
				if len(c) > 2 && c[:2] == "->" {
					err = os.Symlink(c[2:], filepath.Join(d, n))
				} else {
					err = os.WriteFile(filepath.Join(d, n), []byte(c), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			dirfd, err := OpenDirPath(d)
			if err != nil {
				t.Fatal(err)
			}
			defer closed(dirfd, nil)
			err = WriteAt(dirfd, "t", tc.opts, func(f *os.File) error {
				if _, err := f.WriteString(tc.fill); err != nil {
					return err
				}
				return tc.fillErr
			})
			failed := tc.fillErr != nil || tc.renameFails
			if (err != nil) != failed || tc.fillErr != nil && !errors.Is(err, tc.fillErr) {
				t.Fatalf("WriteAt = %v, want failure %v (%v)", err, failed, tc.fillErr)
			}
			ents, _ := os.ReadDir(d)
			if len(ents) != len(tc.after) {
				t.Errorf("directory holds %v, want %v", ents, tc.after)
			}
			for n, want := range tc.after {
				st, err := os.Lstat(filepath.Join(d, n))
				if err != nil || !st.Mode().IsRegular() {
					t.Errorf("%s: %v, %v", n, st, err)
					continue
				}
				if b, _ := os.ReadFile(filepath.Join(d, n)); string(b) != want {
					t.Errorf("%s holds %q, want %q", n, b, want)
				}
				if n == "t" && tc.mode != 0 && st.Mode().Perm() != tc.mode {
					t.Errorf("mode %v, want %v", st.Mode().Perm(), tc.mode)
				}
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	d := t.TempDir()
	p := filepath.Join(d, "state.json")
	for _, data := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != data {
			t.Errorf("read %q, want %q", b, data)
		}
	}
	if err := WriteFile(filepath.Join(d, "missing", "x"), nil, 0o600); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("into a missing directory: %v", err)
	}
}
