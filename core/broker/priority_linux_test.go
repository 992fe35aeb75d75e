package broker

import (
	"syscall"
	"testing"
)

// threadNice returns the nice value of the calling thread.
func threadNice(t *testing.T) int {
	t.Helper()
	// getpriority(2) returns 20-nice for a thread id.
	r, _, errno := syscall.Syscall(syscall.SYS_GETPRIORITY, syscall.PRIO_PROCESS, uintptr(syscall.Gettid()), 0)
	if errno != 0 {
		t.Fatalf("getpriority: %v", errno)
	}
	return 20 - int(r)
}

// threadPolicy returns the scheduling policy of the calling thread.
func threadPolicy(t *testing.T) int {
	t.Helper()
	r, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(syscall.Gettid()), 0, 0)
	if errno != 0 {
		t.Fatalf("sched_getscheduler: %v", errno)
	}
	return int(r)
}
