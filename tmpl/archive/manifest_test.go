package archive

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestManifestRoundTrip(t *testing.T) {
	in := []Entry{
		{Type: 'd', Mode: 0o755, Path: "usr"},
		{Type: 'f', Mode: 0o4755, UID: 0, GID: 50, Size: 12, SHA256: "ab", Path: "usr/bin/su do", Mtime: 1700000000},
		{Type: 'l', Mode: 0o777, Path: "bin", Link: "usr/bin"},
		{Type: 'h', Path: "usr/bin/x\n\"y", Link: "usr/bin/su do"},
		{Type: 'c', Mode: 0o666, Path: "dev/null", Dev: 259},
	}
	var buf bytes.Buffer
	if err := WriteManifest(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadManifest(&buf, "m")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, out); d != "" {
		t.Error(d)
	}
	for _, bad := range []string{"x 644 0 0 0 - 0 0 \"a\" \"\"", "f 644 0 0 0 - 0 0 \"../a\" \"\"", "f 999 0 0 0 - 0 0 \"a\" \"\"", "f 644 0 0 0 - 0 0 a b"} {
		if _, err := ReadManifest(bytes.NewBufferString(bad), "m"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add("f 644 0 0 3 ab 1 0 \"a/b\" \"\"\nl 777 0 0 0 - 0 0 \"c\" \"a\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		es, err := ReadManifest(bytes.NewBufferString(in), "m")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		WriteManifest(&buf, es)
		again, err := ReadManifest(&buf, "m")
		if err != nil || !cmp.Equal(es, again) {
			t.Fatalf("does not round-trip: %v", err)
		}
	})
}
