package broker

import (
	"runtime"
	"syscall"
)

// lowerThreadPriority locks the calling goroutine to its OS thread for the rest of its
// life and gives that thread the lowest CPU priority (nice 19; allowed without
// privileges). The goroutine must end while locked, which ends the thread, so no other
// goroutine ever runs at that priority. Threads the runtime starts meanwhile do not
// inherit it: from a locked thread the runtime has its template thread (started by
// LockOSThread, before the priority changes) create them.
func lowerThreadPriority() error {
	runtime.LockOSThread()
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
