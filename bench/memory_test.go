package main

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestMountdHeapReadsMemStats: the heap figures come from the MemStats
// lines at the end of mountd's heap profile (debug=1), after a collection.
func TestMountdHeapReadsMemStats(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mountd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var query string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Write([]byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 10\n" +
			"# HeapAlloc = 1000\n# HeapSys = 4000\n# HeapIdle = 3000\n# HeapInuse = 2000\n# HeapReleased = 500\n"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	h, err := mountdHeap(sock)
	if err != nil {
		t.Fatal(err)
	}
	if h != (heapStats{live: 1000, inuse: 2000, sys: 4000, released: 500}) {
		t.Errorf("read %+v", h)
	}
	if !strings.Contains(query, "gc=1") || !strings.Contains(query, "debug=1") {
		t.Errorf("asked with %q: want a collection first (gc=1) and the text form (debug=1)", query)
	}
}

func TestMemoryLinesMarkTargets(t *testing.T) {
	lines := memoryLines([]densityResult{
		{Name: "whole", Value: 30 << 20, Unit: "B", Target: "<= 24 MiB", Met: false},
		{Name: "per inode", Value: 700, Unit: "b", Target: "<= 800 B", Met: true},
	})
	if !strings.Contains(lines[0], "30.0 MiB") || !strings.HasSuffix(lines[0], "MISSED") {
		t.Errorf("line %q", lines[0])
	}
	if !strings.Contains(lines[1], "700 B") || !strings.HasSuffix(lines[1], "met") {
		t.Errorf("line %q", lines[1])
	}
}
