package fs

import (
	"runtime"
	"testing"
)

func TestRaiseProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))

	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(1)
	raiseProcs()
	if got := runtime.GOMAXPROCS(0); got != minProcs {
		t.Errorf("GOMAXPROCS 1 raised to %d, want %d", got, minProcs)
	}
	runtime.GOMAXPROCS(minProcs + 3)
	raiseProcs()
	if got := runtime.GOMAXPROCS(0); got != minProcs+3 {
		t.Errorf("GOMAXPROCS %d changed to %d; it should only ever be raised", minProcs+3, got)
	}

	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	raiseProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment overridden to %d", got)
	}
}
