package tmpl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseShellVars(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		{in: "A=1\n# c\n\nB=\"two words\"\nexport C='x y'\n", want: map[string]string{"A": "1", "B": "two words", "C": "x y"}},
		{in: `TEMPLATE=/vz/template # comment`, want: map[string]string{"TEMPLATE": "/vz/template"}},
		{in: `X="a \"q\" \$b"`, want: map[string]string{"X": `a "q" $b`}},
		{in: `OSTEMPLATE=".debian-12-x86_64"`, want: map[string]string{"OSTEMPLATE": ".debian-12-x86_64"}},
		{in: "E=", want: map[string]string{"E": ""}},
		{in: "no equals", err: "want KEY=value"},
		{in: "1A=x", err: "want KEY=value"},
		{in: `A="open`, err: "unterminated"},
		{in: `A=two words`, err: "quote it"},
		{in: `A="x" y`, err: "after closing quote"},
	} {
		got, _, err := ParseShellVars(strings.NewReader(tc.in), "f")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q: %s", tc.in, d)
		}
	}
}

func TestFormatShellVarRoundTrip(t *testing.T) {
	for _, v := range []string{"", "plain", `a "b" $c \d` + "`e`", " .nginx .php"} {
		got, _, err := ParseShellVars(strings.NewReader(FormatShellVar("K", v)), "f")
		if err != nil || got["K"] != v {
			t.Errorf("%q: got %q, %v", v, got["K"], err)
		}
	}
}

func FuzzParseShellVars(f *testing.F) {
	f.Add("A=1\nB=\"x y\" # c\nexport C='z'\n")
	f.Add(`X="a \"q\" \$b"`)
	f.Fuzz(func(t *testing.T, in string) {
		vars, _, err := ParseShellVars(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		for k, v := range vars {
			again, _, err := ParseShellVars(strings.NewReader(FormatShellVar(k, v)), "f")
			if err != nil || again[k] != v {
				t.Fatalf("%s=%q does not round-trip: %q %v", k, v, again[k], err)
			}
		}
	})
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vz.conf")
	os.WriteFile(p, []byte("TEMPLATE=/srv/tmpl\nVE_PRIVATE=/srv/private/$VEID\n"), 0o644)
	c, err := LoadVZConf(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Template != "/srv/tmpl" || c.Private("101") != "/srv/private/101" || c.Root("101") != "/vz/root/101" {
		t.Errorf("got %+v", c)
	}
	if _, err := LoadVZConf(filepath.Join(dir, "missing"), true); err == nil {
		t.Error("missing explicit vz.conf accepted")
	}
	if c, err := LoadVZConf(filepath.Join(dir, "missing"), false); err != nil || c.Template != "/vz/template" {
		t.Errorf("missing default vz.conf: %v %+v", err, c)
	}
	os.WriteFile(p, []byte("VE_ROOT=/vz/root/fixed\n"), 0o644)
	if _, err := LoadVZConf(p, true); err == nil || !strings.Contains(err.Error(), "$VEID") {
		t.Errorf("VE_ROOT without $VEID: %v", err)
	}
	os.WriteFile(p, []byte("TEMPLATE=relative\n"), 0o644)
	if _, err := LoadVZConf(p, true); err == nil {
		t.Error("relative TEMPLATE accepted")
	}
}
