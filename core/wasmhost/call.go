package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// minInputBuffer is the smallest input buffer requested from plugin_alloc; larger
// requests are rounded up to a power of two so that growing batches rarely reallocate.
const minInputBuffer = 64 << 10

// invoke runs one batch call on a pooled instance. encode writes exactly size bytes of
// input straight into the guest's input buffer (obtained from plugin_alloc only when the
// current one is too small); decode checks a successful result (the whole result buffer,
// status included) and must copy what it keeps, since guest memory is reused.
func (p *Plugin) invoke(ctx context.Context, op string, size int, encode func([]byte), decode func([]byte) error) error {
	if uint64(size) > uint64(p.rt.cfg.MemoryLimitBytes) {
		return &CallError{Plugin: p.name, Op: op, Err: ErrOutOfMemory,
			Detail: fmt.Sprintf("input of %d bytes exceeds the %d MiB memory limit", size, p.rt.cfg.MemoryLimitBytes>>20)}
	}
	in, err := p.get(ctx)
	if err != nil {
		return err
	}
	healthy := false
	defer func() { p.put(in, healthy) }()

	in.stderr.reset()
	cc := in.cc.arm(ctx, p.rt.cfg.CallTimeout)
	defer in.cc.disarm()
	if in.inPtr == 0 || uint32(size) > in.inCap {
		want := uint64(max(minInputBuffer, 1<<bits.Len32(uint32(max(size, 1)-1))))
		if want > math.MaxUint32 {
			want = uint64(size)
		}
		in.stack[0] = want
		if err := in.alloc.CallWithStack(cc, in.stack[:]); err != nil {
			return p.failure(op, in.stderr, err)
		}
		ptr := uint32(in.stack[0])
		if ptr == 0 || ptr%8 != 0 {
			return &CallError{Plugin: p.name, Op: op, Err: ErrBadResult, Detail: fmt.Sprintf("plugin_alloc returned %#x, not an 8-byte aligned address", ptr)}
		}
		in.inPtr, in.inCap = ptr, uint32(want)
	}
	buf, ok := in.mem.Read(in.inPtr, uint32(size))
	if !ok {
		return &CallError{Plugin: p.name, Op: op, Err: ErrBadResult, Detail: fmt.Sprintf("plugin_alloc buffer %#x+%d is outside memory", in.inPtr, size)}
	}
	encode(buf)
	in.stack[0], in.stack[1] = uint64(in.inPtr), uint64(size)
	if err := in.fn.CallWithStack(cc, in.stack[:]); err != nil {
		return p.failure(op, in.stderr, err)
	}
	res := in.stack[0]
	out, ok := in.mem.Read(uint32(res>>32), uint32(res))
	if !ok || len(out) < 4 {
		return &CallError{Plugin: p.name, Op: op, Err: ErrBadResult, Detail: fmt.Sprintf("result buffer %#x out of bounds or too short", res)}
	}
	status, payload := le.Uint32(out), out[4:]
	guestErr := func(sentinel error) error {
		return &CallError{Plugin: p.name, Op: op, Err: sentinel, Detail: truncate(string(payload), 1024)}
	}
	switch status {
	case statusOK:
		healthy = true
		if err := decode(out); err != nil {
			return &CallError{Plugin: p.name, Op: op, Err: ErrBadResult, Detail: err.Error()}
		}
		return nil
	case statusPanic:
		// The SDK recovered, but the author's state may be inconsistent: start afresh.
		return guestErr(ErrGuestPanic)
	case statusFailed:
		healthy = true
		return guestErr(ErrGuestFailed)
	case statusNotRegistered:
		healthy = true
		return guestErr(ErrNotSupported)
	case statusBadInput:
		return guestErr(ErrBadResult)
	default:
		return &CallError{Plugin: p.name, Op: op, Err: ErrBadResult, Detail: fmt.Sprintf("unknown status %d", status)}
	}
}

// failure classifies an error from calling into the guest; the instance is discarded.
func (p *Plugin) failure(op string, stderr *headBuffer, err error) error {
	detail, _, _ := strings.Cut(err.Error(), "\n") // drop the wasm stack trace
	detail = strings.TrimSuffix(detail, " (recovered by wazero)")
	if s := firstLines(stderr.String(), 2); s != "" {
		detail += "; guest stderr: " + s
	}
	ce := &CallError{Plugin: p.name, Op: op, Err: ErrTrap, Detail: detail}
	switch {
	case errors.Is(err, errMeterCanceled) || errors.Is(err, errMeterClosed) || errors.Is(err, context.Canceled):
		ce.Err = ErrCanceled
	case errors.Is(err, errMeterDeadline) || errors.Is(err, context.DeadlineExceeded):
		ce.Err = ErrTimeout
		ce.Detail = fmt.Sprintf("call exceeded %v", p.rt.cfg.CallTimeout)
		if op == "start" {
			ce.Detail = fmt.Sprintf("start-up exceeded %v", p.rt.cfg.StartTimeout)
		}
	case strings.Contains(stderr.String(), "out of memory"):
		ce.Err = ErrOutOfMemory
		ce.Detail = fmt.Sprintf("limit %d MiB: %s", p.rt.cfg.MemoryLimitBytes>>20, detail)
	}
	p.rt.cfg.Logger.Warn("wasmhost: discarding plugin instance", "plugin", p.name, "op", op, "err", ce)
	return ce
}

// Partition returns the partition in [0, n) of each record, computed by one call.
func (p *Plugin) Partition(ctx context.Context, topic string, n int32, recs []Record) ([]int32, error) {
	out := make([]int32, len(recs))
	if err := p.PartitionInto(ctx, topic, n, recs, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PartitionInto is Partition writing into out[:len(recs)] instead of allocating; out must
// hold at least len(recs) entries. On error, out's contents are unspecified.
func (p *Plugin) PartitionInto(ctx context.Context, topic string, n int32, recs []Record, out []int32) error {
	if p.kind != KindPartitioner {
		return &CallError{Plugin: p.name, Op: "partition", Err: ErrNotSupported, Detail: "plugin is a " + p.kind.String()}
	}
	if n <= 0 {
		return fmt.Errorf("wasmhost: partition: partition count %d", n)
	}
	if len(out) < len(recs) {
		return fmt.Errorf("wasmhost: partition: out holds %d entries for %d records", len(out), len(recs))
	}
	out = out[:len(recs)]
	return p.invoke(ctx, "partition", callSize(topic, recs),
		func(b []byte) { encodeCall(b, topic, n, recs) },
		func(res []byte) error { return decodePartitions(res[4:], out, n) })
}

// Transform maps a batch of records of topic/partition through the plugin.
func (p *Plugin) Transform(ctx context.Context, topic string, partition int32, recs []Record) ([]Record, error) {
	if p.kind != KindTransform {
		return nil, &CallError{Plugin: p.name, Op: "transform", Err: ErrNotSupported, Detail: "plugin is a " + p.kind.String()}
	}
	var out []Record
	err := p.invoke(ctx, "transform", callSize(topic, recs),
		func(b []byte) { encodeCall(b, topic, partition, recs) },
		func(res []byte) (err error) { out, err = decodeTransformResult(res); return err })
	return out, err
}

// headBuffer keeps the first 2 KiB written to it (a Go guest's fatal error line comes
// first, goroutine dumps after).
type headBuffer struct{ b bytes.Buffer }

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := 2048 - h.b.Len(); room > 0 {
		h.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (h *headBuffer) String() string { return h.b.String() }
func (h *headBuffer) reset()         { h.b.Reset() }

// firstLines returns up to n non-empty lines of s joined by " | ".
func firstLines(s string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && len(out) < n {
			out = append(out, truncate(l, 256))
		}
	}
	return strings.Join(out, " | ")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
