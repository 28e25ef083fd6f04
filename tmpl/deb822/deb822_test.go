package deb822

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/tmpl/internal/tmpltest"
	"github.com/google/go-cmp/cmp"
)

func TestParseStanzasAndWrite(t *testing.T) {
	st, err := Parse(strings.NewReader(tmpltest.Index), "Packages")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 12 || st[0].Get("description") != "C library\nwith a long\n.\ndescription" {
		t.Fatalf("%d stanzas, first description %q", len(st), st[0].Get("Description"))
	}
	var buf bytes.Buffer
	for _, s := range st {
		Write(&buf, s)
	}
	again, err := Parse(&buf, "again")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(st, again); d != "" {
		t.Error(d)
	}
	for _, bad := range []string{" leading continuation\n", "No colon here\n", "Bad Field: x\n"} {
		if _, err := Parse(strings.NewReader(bad), "x"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
