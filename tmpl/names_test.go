package tmpl

import (
	"strings"
	"testing"

	"github.com/ezfs/ezfs/tmpl/repo"
)

// Finding 1 of issue 14 in process: index stanzas, vzpackages lines and
// Filenames that are paths are refused where they are read.
func TestPathsRefusedInIndexes(t *testing.T) {
	for _, stanza := range []string{
		"Package: ../../../../var/tmp/PWN\nVersion: 1.0\nArchitecture: amd64\n",
		"Package: ok\nVersion: 1.0\nArchitecture: ../amd64\n",
		"Package: ok\nVersion: 1.0\nArchitecture: amd64\nDepends: ../../x\n",
		"Package: ok\nVersion: 1.0\nArchitecture: amd64\nProvides: a/b\n",
		"Package: ok\nVersion: 1.0\nArchitecture: amd64\nPre-Depends: ok2 | ../x\n",
		"Package: ok\nVersion: 1.0\nArchitecture: amd64\nFilename: ../../../etc/shadow\n",
		"Package: ok\nVersion: 1.0\nArchitecture: amd64\nFilename: /etc/shadow\n",
		"Package: ok\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/..\n",
	} {
		if err := repo.NewIndex("amd64").ReadIndex(strings.NewReader(stanza), nil, "Packages"); err == nil {
			t.Errorf("accepted:\n%s", stanza)
		}
	}
	if err := repo.NewIndex("amd64").ReadIndex(strings.NewReader("Package: ok\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/main/o/ok_1.0_amd64.deb\n"), nil, "Packages"); err != nil {
		t.Error(err)
	}
	for _, line := range []string{"../x 1.0 amd64 t", "ok 1.0 ../.. t", "ok ../1 amd64 t"} {
		if _, err := ReadVZPackages(strings.NewReader(line+"\n"), "vzpackages"); err == nil {
			t.Errorf("vzpackages line %q accepted", line)
		}
	}
}

func TestCheckCTID(t *testing.T) {
	for _, ok := range []string{"101", "7-9", "web_1", "a.b", "X"} {
		if err := CheckCTID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "../x", "x/y", ".x", "-x", "a b", strings.Repeat("1", 65)} {
		if CheckCTID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Staging names match one container exactly (issue 14, finding 8).
