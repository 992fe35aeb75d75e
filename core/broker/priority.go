package broker

import (
	"runtime"
	"sync"
)

// Background work (the log cleaner) must not delay the produce and fetch paths. Go has
// no goroutine priorities, and a CPU-bound goroutine that only yields (Gosched) keeps
// its processor (P) busy, so the scheduler does not poll the network while both Ps of a
// 2-core machine are taken: a produce request can wait for the 10 ms sysmon poll. So
// the cleaner runs on an OS thread of its own at the lowest CPU priority (nice 19, see
// lowerThreadPriority), and while a pass works without pauses the process has one P
// more than usual (extraProc): the kernel then runs the cleaner's thread only on CPU
// time nobody else wants, and the other Ps stay free for everything else. A pass with
// a duty cycle (the default) gives its P up at every pause and gets no extra one
// (passWorking).

// passWorking is a pass's Working hook for the duty cycle duty
// (log.cleaner.cpu.max.fraction): extraProc when the pass never pauses (duty <= 0 or
// >= 1), else nothing. A pass that pauses hands its P to other goroutines at each
// pause; an extra P then lets three threads of normal priority share two CPUs, which
// cost the produce path about 0.2 ms of p99 in the cleaner benchmark (cleaning p99
// 0.65-0.79 ms without it against 0.71-1.06 ms with it, six runs each, interleaved),
// while peak produce during a pass was within 2-6% either way (docs/benchmarks.md,
// "Compaction").
func passWorking(duty float64) func() (release func()) {
	if duty > 0 && duty < 1 {
		return nil
	}
	return extraProc
}

// extraProcs counts the background passes working in this process (several brokers
// may share one, in tests); while it is above zero GOMAXPROCS is one more than before.
var extraProcs struct {
	sync.Mutex
	n, prev int
}

// extraProc raises GOMAXPROCS by one (process-wide, once however many passes work)
// and returns the function that undoes it.
func extraProc() (release func()) {
	extraProcs.Lock()
	if extraProcs.n == 0 {
		extraProcs.prev = runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(extraProcs.prev + 1)
	}
	extraProcs.n++
	extraProcs.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			extraProcs.Lock()
			if extraProcs.n--; extraProcs.n == 0 {
				// Back to the runtime's default (which keeps following the
				// CPU limit), unless GOMAXPROCS was set to something else.
				runtime.SetDefaultGOMAXPROCS()
				if runtime.GOMAXPROCS(0) != extraProcs.prev {
					runtime.GOMAXPROCS(extraProcs.prev)
				}
			}
			extraProcs.Unlock()
		})
	}
}
