package fs

import (
	"runtime"
	"testing"
)

func TestRaiseProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func(b int) { baseProcs = b }(baseProcs)
	inBase := func() (n int) {
		withBaseProcs(func() { n = runtime.GOMAXPROCS(0) })
		return n
	}

	t.Setenv("GOMAXPROCS", "")
	baseProcs = 0
	runtime.GOMAXPROCS(1)
	raiseProcs()
	if got := runtime.GOMAXPROCS(0); got != minProcs {
		t.Errorf("GOMAXPROCS 1 raised to %d, want %d", got, minProcs)
	}
	if got := inBase(); got != 1 {
		t.Errorf("GOMAXPROCS for go-fuse's readers is %d, want the 1 from before", got)
	}
	if got := runtime.GOMAXPROCS(0); got != minProcs {
		t.Errorf("GOMAXPROCS after withBaseProcs is %d, want %d again", got, minProcs)
	}

	baseProcs = 0
	runtime.GOMAXPROCS(minProcs + 3)
	raiseProcs()
	if got := runtime.GOMAXPROCS(0); got != minProcs+3 {
		t.Errorf("GOMAXPROCS %d changed to %d; it should only ever be raised", minProcs+3, got)
	}
	if got := inBase(); got != minProcs+3 {
		t.Errorf("GOMAXPROCS for go-fuse's readers is %d, want the %d it was not raised from", got, minProcs+3)
	}

	t.Setenv("GOMAXPROCS", "1")
	baseProcs = 0
	runtime.GOMAXPROCS(1)
	raiseProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment overridden to %d", got)
	}
}
