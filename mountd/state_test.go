package mountd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStateRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mounts.json")
	if recs, err := loadState(p); err != nil || recs != nil {
		t.Fatalf("missing state: %v %v", recs, err)
	}
	in := []Record{{ID: "101", Template: "/vz/template", Private: "/vz/private/101/root", Mountpoint: "/vz/root/101"},
		{Template: "/t", Private: "/p", Mountpoint: "/a", NoPassthrough: true}}
	if err := saveState(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := loadState(p)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Record{in[1], in[0]}, out); d != "" {
		t.Error(d)
	}
	os.WriteFile(p, []byte("{broken"), 0o600)
	if _, err := loadState(p); err == nil {
		t.Error("broken state accepted")
	}
}

func TestRecordCheck(t *testing.T) {
	for _, r := range []Record{{Template: "t", Private: "/p", Mountpoint: "/m"}, {Template: "/t/../x", Private: "/p", Mountpoint: "/m"}} {
		if err := r.check(); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

func FuzzLoadState(f *testing.F) {
	f.Add(`[{"id":"1","template":"/t","private":"/p","mountpoint":"/m"}]`)
	// One file for all runs: see FuzzLoadTemplate in tmpl.
	p := filepath.Join(f.TempDir(), "s.json")
	f.Fuzz(func(t *testing.T, in string) {
		os.WriteFile(p, []byte(in), 0o600)
		recs, err := loadState(p)
		if err != nil {
			return
		}
		for _, r := range recs {
			r.check()
		}
	})
}
