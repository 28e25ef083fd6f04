package main

import "testing"

func TestFSType(t *testing.T) {
	for dir, want := range map[string]string{"/proc": "proc", "/proc/self/fd": "proc"} {
		if got := fsType(dir); got != want {
			t.Errorf("fsType(%s) = %q, want %q", dir, got, want)
		}
	}
	if got := fsType("/no/such/dir"); got != "?" {
		t.Errorf("fsType of a missing directory = %q, want ?", got)
	}
}
