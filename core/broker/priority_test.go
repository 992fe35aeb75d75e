package broker

import (
	"runtime"
	"testing"
)

// TestExtraProc: GOMAXPROCS is one higher while any pass works (however many), and back
// to what it was after the last one; releasing twice is harmless.
func TestExtraProc(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	r1 := extraProc()
	r2 := extraProc()
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Fatalf("GOMAXPROCS %d with two passes working, want %d", got, before+1)
	}
	r1()
	r1()
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Fatalf("GOMAXPROCS %d with one pass still working, want %d", got, before+1)
	}
	r2()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS %d after the passes, want %d", got, before)
	}
}

// TestLowerThreadPriority: the calling thread gets nice 19 and SCHED_IDLE, other
// threads keep theirs.
func TestLowerThreadPriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are only lowered on Linux")
	}
	done := make(chan [2]int)
	go func() {
		if err := lowerThreadPriority(); err != nil {
			t.Error(err)
		}
		done <- [2]int{threadNice(t), threadPolicy(t)}
	}() // ends locked: its thread goes with it
	if got := <-done; got != [2]int{19, schedIdle} {
		t.Fatalf("nice %d, policy %d on the lowered thread, want 19 and SCHED_IDLE (%d)", got[0], got[1], schedIdle)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n, p := threadNice(t), threadPolicy(t); n == 19 || p == schedIdle {
		t.Fatalf("another thread got nice %d, policy %d too", n, p)
	}
}

// TestPassWorking: only a pass that never pauses (no duty cycle) gets the extra P.
func TestPassWorking(t *testing.T) {
	for _, c := range []struct {
		duty  float64
		extra bool
	}{{0.5, false}, {0.05, false}, {0.999, false}, {1, true}, {0, true}, {-1, true}, {2, true}} {
		if got := passWorking(c.duty) != nil; got != c.extra {
			t.Errorf("duty %g: extra P %v, want %v", c.duty, got, c.extra)
		}
	}
}
