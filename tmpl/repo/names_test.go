package repo

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
