package broker

import (
	"runtime"
	"syscall"
	"unsafe"
)

// schedIdle is Linux's SCHED_IDLE scheduling policy.
const schedIdle = 5

// lowerThreadPriority locks the calling goroutine to its OS thread for the rest of its
// life and gives that thread the lowest CPU priority: nice 19 and the SCHED_IDLE policy
// (both allowed without privileges). The goroutine must end while locked, which ends
// the thread, so no other goroutine ever runs at that priority. Threads the runtime
// starts meanwhile do not inherit it: from a locked thread the runtime has its template
// thread (started by LockOSThread, before the priority changes) create them.
//
// SCHED_IDLE matters on small VMs: with both vCPUs busy, a broker thread waking from
// I/O waited up to two 4 ms ticks behind nice-19 work (measured: fdatasync-loop p99
// 0.24 ms alone, 7.9 ms beside two nice-19 busy loops, 0.30 ms beside two SCHED_IDLE
// ones); a SCHED_IDLE thread is preempted at once. The price: under sustained full
// load the thread only runs when a CPU would otherwise be idle.
func lowerThreadPriority() error {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19); err != nil {
		return err
	}
	var param struct{ priority int32 }
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle, uintptr(unsafe.Pointer(&param))); errno != 0 {
		return errno
	}
	return nil
}
