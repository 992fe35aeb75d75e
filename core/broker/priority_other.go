//go:build !linux

package broker

import (
	"errors"
	"runtime"
)

// lowerThreadPriority locks the calling goroutine to its OS thread; lowering one
// thread's priority is only implemented on Linux.
func lowerThreadPriority() error {
	runtime.LockOSThread()
	return errors.ErrUnsupported
}
