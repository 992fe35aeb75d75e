package wasmhost

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Errors the refuel host function aborts a guest with (wazero returns them wrapped from
// the export's Call); failure maps them to the sentinels.
var (
	errMeterDeadline = errors.New("deadline exceeded")
	errMeterCanceled = errors.New("call canceled")
	errMeterClosed   = errors.New("instance closed")
)

// callCtx is the context of one guest call. Each instance owns one and reuses it, so a
// call allocates no context or timer: the deadline is checked by refuel (meter.go)
// whenever the guest's fuel runs out.
type callCtx struct {
	context.Context           // the caller's context
	deadline        time.Time // monotonic
}

type callCtxKey struct{}

func (c *callCtx) Value(key any) any {
	if key == (callCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (c *callCtx) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// arm prepares c for a call under parent lasting at most timeout.
func (c *callCtx) arm(parent context.Context, timeout time.Duration) *callCtx {
	c.Context = parent
	c.deadline = time.Now().Add(timeout)
	return c
}

// disarm drops the reference to the caller's context.
func (c *callCtx) disarm() { c.Context = nil }

// refuel is the host side of metering: it runs whenever a guest's fuel is exhausted,
// aborts the call if its deadline passed, its context ended or the instance was closed,
// and otherwise grants a new budget.
func refuel(ctx context.Context, mod api.Module, stack []uint64) {
	if mod.IsClosed() {
		panic(errMeterClosed)
	}
	if c, ok := ctx.Value(callCtxKey{}).(*callCtx); ok {
		if !time.Now().Before(c.deadline) {
			panic(errMeterDeadline)
		}
		ctx = c.Context
	}
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			panic(errMeterDeadline)
		}
		panic(errMeterCanceled)
	}
	stack[0] = refuelBudget
}

// instantiateMeter registers the "streamd" host module that metered modules import.
func instantiateMeter(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(meterModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(refuel), nil, []api.ValueType{api.ValueTypeI32}).
		WithName(meterFunc).
		Export(meterFunc).
		Instantiate(ctx)
	return err
}
