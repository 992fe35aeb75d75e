package wasmhost

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Kind is what a plugin implements.
type Kind uint8

// Plugin kinds.
const (
	KindPartitioner Kind = iota + 1
	KindAssignor
	KindTransform
)

func (k Kind) String() string {
	switch k {
	case KindPartitioner:
		return "partitioner"
	case KindAssignor:
		return "assignor"
	case KindTransform:
		return "transform"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// export is the ABI export implementing k; bit its plugin_kinds bit.
func (k Kind) export() string {
	return map[Kind]string{KindPartitioner: "partition", KindAssignor: "assign", KindTransform: "transform"}[k]
}

func (k Kind) bit() int32 { return 1 << (k - 1) }

// Header is a record header; a nil Value is null.
type Header struct {
	Key   string
	Value []byte
}

// Record is a record passed to or returned by a plugin. Nil Key/Value are null.
type Record struct {
	Timestamp int64 // milliseconds since the Unix epoch
	Key       []byte
	Value     []byte
	Headers   []Header
}

// GroupSpec is the input of an assignor (JSON on the wire, see docs/plugin-abi.md).
type GroupSpec struct {
	Group   string           `json:"group"`
	Members []Member         `json:"members"`
	Topics  map[string]int32 `json:"topics"`
}

// Member is one member of a group.
type Member struct {
	ID       string             `json:"id"`
	Topics   []string           `json:"topics"`
	UserData []byte             `json:"user_data,omitempty"`
	Owned    map[string][]int32 `json:"owned,omitempty"`
}

// Assignment maps member id -> topic -> partitions.
type Assignment struct {
	Members map[string]map[string][]int32 `json:"members"`
}

// Plugin is a loaded module with a bounded pool of instances. Its methods are safe for
// concurrent use; at most Config.PoolSize calls run at once, others wait for an instance.
type Plugin struct {
	name     string
	kind     Kind
	rt       *Runtime
	compiled wazero.CompiledModule

	slots chan struct{}  // one token per live instance (bounds the pool)
	idle  chan *instance // idle instances; never more than cap(slots)

	mu     sync.Mutex
	closed bool
}

type instance struct {
	mod    api.Module
	mem    api.Memory
	alloc  api.Function
	fn     api.Function
	stderr *headBuffer
	buf    []byte
}

// Name returns the name given to Load.
func (p *Plugin) Name() string { return p.name }

// Kind returns the kind given to Load.
func (p *Plugin) Kind() Kind { return p.kind }

// Close discards the idle instances and the compiled code; instances in use are closed
// when their call returns. Later calls fail with ErrClosed.
func (p *Plugin) Close() error {
	p.rt.mu.Lock()
	delete(p.rt.plugins, p)
	p.rt.mu.Unlock()
	p.close(context.Background())
	return nil
}

func (p *Plugin) close(ctx context.Context) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for {
		select {
		case in := <-p.idle:
			_ = in.mod.Close(ctx)
			continue
		default:
		}
		break
	}
	p.mu.Unlock()
	_ = p.compiled.Close(ctx)
}

func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, p.rt.cfg.CallTimeout)
	defer cancel()
	stderr := &headBuffer{}
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").WithStderr(stderr)
	mod, err := p.rt.rt.InstantiateModule(ctx, p.compiled, cfg)
	if err != nil {
		return nil, p.failure("start", ctx, stderr, err)
	}
	return &instance{
		mod: mod, mem: mod.Memory(), stderr: stderr,
		alloc: mod.ExportedFunction("plugin_alloc"),
		fn:    mod.ExportedFunction(p.kind.export()),
	}, nil
}

func (p *Plugin) get(ctx context.Context) (*instance, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, &CallError{Plugin: p.name, Op: "acquire", Err: ErrCanceled, Detail: ctx.Err().Error()}
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		<-p.slots
		return nil, ErrClosed
	}
	select {
	case in := <-p.idle:
		return in, nil
	default:
	}
	in, err := p.newInstance(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return in, nil
}

// put returns a healthy instance to the pool and closes any other.
func (p *Plugin) put(in *instance, healthy bool) {
	if healthy && uint64(in.mem.Size()) > p.rt.cfg.RecycleMemoryBytes {
		healthy = false
	}
	p.mu.Lock()
	if healthy && !p.closed {
		p.idle <- in // cannot block: idle instances ≤ slots held
		in = nil
	}
	p.mu.Unlock()
	if in != nil {
		_ = in.mod.Close(context.Background())
	}
	<-p.slots
}

// check runs the start-up checks on a first instance and keeps it warm.
func (p *Plugin) check(ctx context.Context) error {
	in, err := p.get(ctx)
	if err != nil {
		var ce *CallError
		if errors.As(err, &ce) {
			return &CallError{Plugin: p.name, Op: "load", Err: ErrInvalidModule, Detail: ce.Error()}
		}
		return err
	}
	ok := false
	defer func() { p.put(in, ok) }()
	ctx, cancel := context.WithTimeout(ctx, p.rt.cfg.CallTimeout)
	defer cancel()
	invalid := func(format string, a ...any) error {
		return &CallError{Plugin: p.name, Op: "load", Err: ErrInvalidModule, Detail: fmt.Sprintf(format, a...)}
	}
	v, err := in.mod.ExportedFunction("abi_version").Call(ctx)
	if err != nil {
		return invalid("abi_version: %v", err)
	}
	if int32(v[0]) != ABIVersion {
		return invalid("abi_version %d, host supports %d", int32(v[0]), ABIVersion)
	}
	k, err := in.mod.ExportedFunction("plugin_kinds").Call(ctx)
	if err != nil {
		return invalid("plugin_kinds: %v", err)
	}
	if int32(k[0])&p.kind.bit() == 0 {
		return invalid("module does not register a %s (plugin_kinds=%#x)", p.kind, int32(k[0]))
	}
	ok = true
	return nil
}

// invoke runs one batch call: encode the input into the instance's buffer, place it with
// plugin_alloc, call the kind's export and decode the result with decode, which must copy
// what it keeps (guest memory is reused).
func (p *Plugin) invoke(ctx context.Context, op string, encode func([]byte) []byte, decode func([]byte) error) error {
	in, err := p.get(ctx)
	if err != nil {
		return err
	}
	healthy := false
	defer func() { p.put(in, healthy) }()

	in.buf = encode(in.buf[:0])
	in.stderr.reset()
	cctx, cancel := context.WithTimeout(ctx, p.rt.cfg.CallTimeout)
	defer cancel()
	res, err := in.alloc.Call(cctx, uint64(len(in.buf)))
	if err != nil {
		return p.failure(op, ctx, in.stderr, err)
	}
	ptr := uint32(res[0])
	if !in.mem.Write(ptr, in.buf) {
		return &CallError{Plugin: p.name, Op: op, Err: ErrBadResult, Detail: "plugin_alloc returned an out-of-bounds buffer"}
	}
	res, err = in.fn.Call(cctx, uint64(ptr), uint64(len(in.buf)))
	if err != nil {
		return p.failure(op, ctx, in.stderr, err)
	}
	out, ok := in.mem.Read(uint32(res[0]>>32), uint32(res[0]))
	if !ok || len(out) < 4 {
		return &CallError{Plugin: p.name, Op: op, Err: ErrBadResult, Detail: fmt.Sprintf("result buffer %#x out of bounds or too short", res[0])}
	}
	status, payload := binary.LittleEndian.Uint32(out), out[4:]
	guestErr := func(sentinel error) error {
		return &CallError{Plugin: p.name, Op: op, Err: sentinel, Detail: truncate(string(payload), 1024)}
	}
	switch status {
	case statusOK:
		healthy = true
		if err := decode(payload); err != nil {
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
func (p *Plugin) failure(op string, ctx context.Context, stderr *headBuffer, err error) error {
	detail, _, _ := strings.Cut(err.Error(), "\n") // drop the wasm stack trace
	if s := firstLines(stderr.String(), 2); s != "" {
		detail += "; guest stderr: " + s
	}
	ce := &CallError{Plugin: p.name, Op: op, Err: ErrTrap, Detail: detail}
	switch {
	case errors.Is(err, errMeterCanceled) || errors.Is(err, errMeterClosed) || errors.Is(err, context.Canceled):
		ce.Err = ErrCanceled
	case errors.Is(err, errMeterDeadline) || errors.Is(err, context.DeadlineExceeded):
		ce.Err = ErrTimeout
		ce.Detail = fmt.Sprintf("call exceeded %v: %s", p.rt.cfg.CallTimeout, detail)
	case strings.Contains(stderr.String(), "out of memory"):
		ce.Err = ErrOutOfMemory
		ce.Detail = fmt.Sprintf("limit %d MiB: %s", p.rt.cfg.MemoryLimitBytes>>20, detail)
	}
	p.rt.cfg.Logger.Warn("wasmhost: discarding plugin instance", "plugin", p.name, "op", op, "err", ce)
	return ce
}

// Partition returns the partition in [0, n) of each record, computed by one call.
func (p *Plugin) Partition(ctx context.Context, topic string, n int32, recs []Record) ([]int32, error) {
	if p.kind != KindPartitioner {
		return nil, &CallError{Plugin: p.name, Op: "partition", Err: ErrNotSupported, Detail: "plugin is a " + p.kind.String()}
	}
	if n <= 0 {
		return nil, fmt.Errorf("wasmhost: partition: partition count %d", n)
	}
	var out []int32
	err := p.invoke(ctx, "partition",
		func(b []byte) []byte { return encodePartition(b, topic, n, recs) },
		func(payload []byte) (err error) { out, err = decodePartitions(payload, len(recs), n); return err })
	return out, err
}

// Transform maps a batch of records of topic/partition through the plugin.
func (p *Plugin) Transform(ctx context.Context, topic string, partition int32, recs []Record) ([]Record, error) {
	if p.kind != KindTransform {
		return nil, &CallError{Plugin: p.name, Op: "transform", Err: ErrNotSupported, Detail: "plugin is a " + p.kind.String()}
	}
	var out []Record
	err := p.invoke(ctx, "transform",
		func(b []byte) []byte { return encodeTransform(b, topic, partition, recs) },
		func(payload []byte) (err error) { out, err = decodeRecords(payload); return err })
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
