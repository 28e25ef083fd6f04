package mountd

import (
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

// fakeHeap is a trimmer's view of the heap that the test moves.
type fakeHeap struct {
	mu              sync.Mutex
	allocated, live uint64
}

func (h *fakeHeap) alloc(n uint64) {
	h.mu.Lock()
	h.allocated += n
	h.mu.Unlock()
}

// runTrimmer runs a trimmer on a fake heap and tick; step ticks once and
// returns how many times memory has been freed so far.
func runTrimmer(t *testing.T, h *fakeHeap) (tr *trimmer, step func() int) {
	t.Helper()
	freed := make(chan struct{}, 16)
	stop, tick := make(chan struct{}), make(chan time.Time)
	tr = &trimmer{ended: make(chan struct{}, 1), free: func() { freed <- struct{}{} }}
	tr.heap = func() (uint64, uint64) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.allocated, h.live
	}
	done := make(chan struct{})
	go func() { tr.run(stop, tick); close(done) }()
	t.Cleanup(func() { close(stop); <-done })
	tick <- time.Time{} // the trimmer has read the heap it starts from
	n := 0
	step = func() int {
		tick <- time.Time{}
		tick <- time.Time{} // returns once the first tick was handled
		for {
			select {
			case <-freed:
				n++
			default:
				return n
			}
		}
	}
	return tr, step
}

// TestTrimWhenIdleAfterWork: memory goes back once the daemon is idle
// after allocating enough, not while it works, and not again for
// nothing.
func TestTrimWhenIdleAfterWork(t *testing.T) {
	h := &fakeHeap{}
	h.live = 1 << 20
	_, step := runTrimmer(t, h)
	if n := step(); n != 0 {
		t.Fatalf("an idle daemon that allocated nothing freed memory %d times", n)
	}
	for i := 0; i < 5; i++ {
		h.alloc(8 << 20) // busy: 8 MiB a tick
		if n := step(); n != 0 {
			t.Fatalf("freed memory while busy (%d times)", n)
		}
	}
	// Two quiet ticks make it idle: each step is two ticks.
	if n := step(); n != 1 {
		t.Fatalf("idle after work: freed %d times, want 1", n)
	}
	step()
	step()
	if n := step(); n != 1 {
		t.Fatalf("still idle, nothing allocated: freed %d times, want 1 in all", n)
	}
}

// TestTrimAgainAfterMountEnded: a mount that ended is trimmed for
// several times (what its pools and finalizers held goes only at later
// collections), even if little was allocated, and then no more.
func TestTrimAgainAfterMountEnded(t *testing.T) {
	h := &fakeHeap{}
	h.live = 1 << 20
	tr, step := runTrimmer(t, h)
	step()
	tr.mountEnded()
	for i := 0; i < afterMountPasses+2; i++ {
		step()
	}
	if n := step(); n != afterMountPasses {
		t.Fatalf("after a mount ended: freed %d times, want %d", n, afterMountPasses)
	}
}

// TestTrimScalesWithHeap: a large live heap is collected only after a
// quarter of it was allocated again.
func TestTrimScalesWithHeap(t *testing.T) {
	h := &fakeHeap{}
	h.live = 400 << 20
	_, step := runTrimmer(t, h)
	h.alloc(50 << 20)
	step()
	if n := step(); n != 0 {
		t.Fatalf("50 MiB allocated on a 400 MiB heap: freed %d times", n)
	}
	h.alloc(60 << 20)
	step()
	if n := step(); n != 1 {
		t.Fatalf("110 MiB allocated on a 400 MiB heap: freed %d times, want 1", n)
	}
}

// TestTuneMemoryKeepsTheEnvironment: a GOMEMLIMIT set by the
// environment wins; unset, mountd sets its own.
func TestTuneMemoryKeepsTheEnvironment(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(oldLimit) })

	t.Setenv("GOMEMLIMIT", "")
	tuneMemory()
	if got := debug.SetMemoryLimit(-1); got != memoryLimit() || got <= 0 {
		t.Errorf("GOMEMLIMIT unset: limit %d, want %d", got, memoryLimit())
	}

	debug.SetMemoryLimit(1 << 62)
	t.Setenv("GOMEMLIMIT", "1GiB")
	tuneMemory()
	if got := debug.SetMemoryLimit(-1); got != 1<<62 {
		t.Errorf("GOMEMLIMIT set: tuneMemory changed the limit to %d", got)
	}
}
