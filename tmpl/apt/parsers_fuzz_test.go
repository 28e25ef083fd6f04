package apt

import "testing"

func FuzzParseAptLine(f *testing.F) {
	f.Add("deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://example.invalid/debian bookworm main contrib")
	f.Add("deb [trusted=yes] file:///srv/repo ./")
	f.Fuzz(func(t *testing.T, line string) {
		s, err := ParseAptLine(line)
		if err != nil {
			return
		}
		if s.Flat() == (len(s.Components) > 0) {
			t.Fatalf("%q: flat %v with components %v", line, s.Flat(), s.Components)
		}
	})
}

func FuzzParseRelease(f *testing.F) {
	f.Add("Origin: Debian\nSuite: stable\nSHA256:\n 0123abcd 1234 main/binary-amd64/Packages.xz\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := parseRelease([]byte(text), "f")
		if err != nil {
			return
		}
		for p, h := range r.hashes {
			if p == "" || h.size < 0 {
				t.Fatalf("bad entry %q %+v", p, h)
			}
		}
	})
}

func TestParseAptLine(t *testing.T) {
	s, err := ParseAptLine("deb [arch=amd64,arm64 signed-by=/k.gpg] http://example.invalid/debian/ bookworm main contrib")
	if err != nil || s.URI != "http://example.invalid/debian" || s.Suite != "bookworm" || len(s.Components) != 2 ||
		s.Options["signed-by"] != "/k.gpg" || s.Options["arch"] != "amd64,arm64" {
		t.Errorf("%+v %v", s, err)
	}
	if s, err := ParseAptLine("deb [trusted=yes] /srv/repo ./"); err != nil || !s.Flat() || !s.Trusted() {
		t.Errorf("flat: %+v %v", s, err)
	}
	for _, bad := range []string{"deb-src http://x y z", "deb http://x", "deb http://x stable", "deb /r ./ main", "deb [arch] http://x y z", "deb ftp://x y z"} {
		if _, err := ParseAptLine(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseDeb822Sources(t *testing.T) {
	in := "Types: deb\nURIs: http://example.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nEnabled: no\nURIs: http://example.invalid/other\nSuites: x\nComponents: main\n"
	ss, err := parseDeb822Sources([]byte(in), "debian.sources")
	if err != nil || len(ss) != 2 || ss[1].Suite != "bookworm-updates" || ss[0].Options["signed-by"] == "" {
		t.Fatalf("%v %+v", err, ss)
	}
}
