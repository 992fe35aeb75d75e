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
// lowerThreadPriority), and while a pass works the process has one P more than usual
// (extraProc): the kernel then runs the cleaner's thread only on CPU time nobody else
// wants, and the other Ps stay free for everything else.

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
