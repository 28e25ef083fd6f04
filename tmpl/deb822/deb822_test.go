package deb822

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testIndex = `Package: libc
Version: 2.36-9
Architecture: amd64
Priority: required
Description: C library
 with a long
 .
 description

Package: libfoo
Version: 1.0
Architecture: amd64
Filename: libfoo_1.0_amd64.tar.gz
Size: 10
SHA256: AB

Package: libfoo
Version: 1:0.9
Architecture: amd64

Package: tool
Version: 2.0~rc1
Architecture: amd64
Depends: libfoo (>= 1:0), libc
Pre-Depends: libc (>= 2.0)

Package: mawk
Version: 1.3
Architecture: amd64
Provides: awk

Package: gawk
Version: 5.2
Architecture: amd64
Provides: awk (= 5.2)

Package: script
Version: 1
Architecture: all
Depends: gawk2 | awk, perl | python3 (>= 3.11) | libc

Package: nginx
Version: 1.22-9
Architecture: amd64
Provides: httpd, nginx-abi-1.22

Package: nginx
Version: 1.22-11
Architecture: amd64
Provides: httpd, nginx-abi-1.22

Package: mod
Version: 1
Architecture: amd64
Depends: nginx-abi-1.22

Package: light
Version: 1.22-11
Architecture: amd64
Depends: mod, nginx (>= 1.22-11)

Package: other-arch
Version: 1
Architecture: arm64
`

func TestParseStanzasAndWrite(t *testing.T) {
	st, err := Parse(strings.NewReader(testIndex), "Packages")
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
