package fs

import (
	"strings"
	"testing"
)

func TestCheckLinkValue(t *testing.T) {
	for v, ok := range map[string]bool{
		"debian/12/x86_64/bash_5.2.15-2+b7_amd64/usr/bin/bash": true,
		"a": true, "": false, "/abs": false, "a/../b": false, "a/./b": false, "a//b": false,
		"a/b/": false, "..": false, "a\x00b": false, strings.Repeat("a", 5000): false,
	} {
		if err := CheckLinkValue(v); (err == nil) != ok {
			t.Errorf("CheckLinkValue(%q) = %v", v, err)
		}
	}
}

func FuzzCheckLinkValue(f *testing.F) {
	f.Add("debian/12/x86_64/bash_5.2.15-2+b7_amd64/usr/bin/bash")
	f.Add("../etc/shadow")
	f.Fuzz(func(t *testing.T, v string) {
		if CheckLinkValue(v) != nil {
			return
		}
		// Whatever passes stays beneath the template area.
		if strings.HasPrefix(v, "/") || strings.Contains("/"+v+"/", "/../") || strings.Contains("/"+v+"/", "/./") || strings.Contains(v, "//") {
			t.Fatalf("accepted %q", v)
		}
	})
}
