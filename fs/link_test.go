package fs

import (
	"fmt"
	"hash/fnv"
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

// genSink keeps the measured call from being optimised away.
var genSink uint64

// TestLinkGenIsFNV1a: generations are the kernel's inode generations of
// link entries: a new way of computing them must give the same numbers.
func TestLinkGenIsFNV1a(t *testing.T) {
	for _, v := range []string{"", "pkg/a", "usr/share/doc/libc6/changelog.Debian.gz"} {
		h := fnv.New64a()
		h.Write([]byte(v))
		if got, want := linkGen(v), h.Sum64()|1; got != want {
			t.Errorf("linkGen(%q) = %#x, want %#x", v, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { genSink = linkGen("usr/share/doc/libc6/changelog.Debian.gz") }); n != 0 {
		t.Errorf("linkGen allocates %v times", n)
	}
}

// TestResolvedLinksBounded: a template keeps at most maxResolvedLinks
// resolved values, and the newest is among them.
func TestResolvedLinksBounded(t *testing.T) {
	var r resolvedLinks
	for i := 0; i < maxResolvedLinks+10; i++ {
		r.store(&linkTarget{value: fmt.Sprintf("pkg/%d", i)})
	}
	if n := len(r.m); n > maxResolvedLinks {
		t.Fatalf("%d resolved values kept, bound %d", n, maxResolvedLinks)
	}
	last := fmt.Sprintf("pkg/%d", maxResolvedLinks+9)
	if v := r.intern([]byte(last)); v != last {
		t.Fatalf("the newest value %q is not kept (intern says %q)", last, v)
	}
}
