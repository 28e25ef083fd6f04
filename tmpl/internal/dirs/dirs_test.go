package dirs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSeal(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		mode os.FileMode // 0: not made
		want os.FileMode
		err  bool
	}{
		{"open", 0o755, 0o700, false},
		{"closed already", 0o750 &^ 0o077, 0o700, false},
		{"missing", 0, 0, false},
	} {
		p := filepath.Join(dir, tc.name)
		if tc.mode != 0 {
			if err := os.Mkdir(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tc.mode)
		}
		if err := Seal(p); (err != nil) != tc.err {
			t.Errorf("%s: %v", tc.name, err)
		}
		if st, err := os.Stat(p); tc.mode != 0 && (err != nil || st.Mode().Perm() != tc.want) {
			t.Errorf("%s: mode %v, want %v", tc.name, st.Mode().Perm(), tc.want)
		}
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if Seal(f) == nil {
		t.Error("sealed a file")
	}
	if err := SyncFS(dir); err != nil {
		t.Error(err)
	}
	if SyncFS(f) == nil {
		t.Error("SyncFS of a file")
	}
	Sync(dir)
}
