package wasmhost

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error returned by a Plugin call wraps one of them (errors.Is).
var (
	ErrClosed        = errors.New("wasmhost: closed")
	ErrInvalidModule = errors.New("wasmhost: invalid module")
	ErrTimeout       = errors.New("wasmhost: deadline exceeded")
	ErrCanceled      = errors.New("wasmhost: call canceled")
	ErrOutOfMemory   = errors.New("wasmhost: out of memory")
	ErrTrap          = errors.New("wasmhost: guest trapped")
	ErrGuestPanic    = errors.New("wasmhost: guest panicked")
	ErrGuestFailed   = errors.New("wasmhost: guest returned an error")
	ErrBadResult     = errors.New("wasmhost: invalid result from guest")
	ErrNotSupported  = errors.New("wasmhost: kind not supported by plugin")
)

// CallError is returned by a failed plugin call. It names the plugin and the operation;
// Unwrap yields one of the sentinel errors above.
type CallError struct {
	Plugin string // plugin name given to Load
	Op     string // "partition", "transform", "assign", "load"
	Err    error  // sentinel
	Detail string // guest message, trap text or captured stderr
}

func (e *CallError) Error() string {
	msg := fmt.Sprintf("wasmhost: plugin %q: %s: %s", e.Plugin, e.Op, e.Err.Error()[len("wasmhost: "):])
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *CallError) Unwrap() error { return e.Err }
