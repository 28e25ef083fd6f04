package tmpl

import (
	"strings"
	"testing"
)

func TestPackageNamesAndArches(t *testing.T) {
	for _, ok := range []string{"bash", "libc6", "g++", "libstdc++6", "0ad", "xz-utils", "python3.11"} {
		if !ValidPackageName(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "a", "..", "../x", "a/b", "Bash", "-x", ".x", "+x", "a b", "a_b", "a:b", strings.Repeat("a", 129)} {
		if ValidPackageName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, ok := range []string{"amd64", "all", "any", "kfreebsd-i386", "x32"} {
		if !ValidArch(ok) {
			t.Errorf("arch %q refused", ok)
		}
	}
	for _, bad := range []string{"", "..", "amd64/../..", "AMD64", "-x", "a_b"} {
		if ValidArch(bad) {
			t.Errorf("arch %q accepted", bad)
		}
	}
}

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
		if err := NewIndex("amd64").ReadIndex(strings.NewReader(stanza), nil, "Packages"); err == nil {
			t.Errorf("accepted:\n%s", stanza)
		}
	}
	if err := NewIndex("amd64").ReadIndex(strings.NewReader("Package: ok\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/main/o/ok_1.0_amd64.deb\n"), nil, "Packages"); err != nil {
		t.Error(err)
	}
	for _, line := range []string{"../x 1.0 amd64 t", "ok 1.0 ../.. t", "ok ../1 amd64 t"} {
		if _, err := ReadVZPackages(strings.NewReader(line+"\n"), "vzpackages"); err == nil {
			t.Errorf("vzpackages line %q accepted", line)
		}
	}
}
