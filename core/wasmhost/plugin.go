package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// PluginPrefix starts the name of a strategy (partitioner or assignor) that runs an
// uploaded plugin: "wasm:NAME". (core/config has the same literal: it may not import
// this package.)
const PluginPrefix = "wasm:"

// Source hands out the current version of an uploaded plugin; release must be called
// once the call is done. core/registry's Registry implements it, so that a new version
// of a plugin takes over between two calls while a call in flight finishes on the
// version it started with.
type Source interface {
	Acquire(name string, kind Kind) (p *Plugin, release func(), err error)
}

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
	cc     callCtx   // reused by every call: no context or timer is allocated per call
	stack  [2]uint64 // parameters and results of CallWithStack
	inPtr  uint32    // input buffer returned by plugin_alloc (0: none yet)
	inCap  uint32    // its size
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
	in := &instance{stderr: &headBuffer{}}
	cfg := p.rt.moduleConfig().WithStderr(in.stderr)
	mod, err := p.rt.rt.InstantiateModule(in.cc.arm(ctx, p.rt.cfg.StartTimeout), p.compiled, cfg)
	in.cc.disarm()
	if err != nil {
		return nil, p.failure("start", in.stderr, err)
	}
	in.mod, in.mem = mod, mod.Memory()
	in.alloc = mod.ExportedFunction("plugin_alloc")
	in.fn = mod.ExportedFunction(p.kind.export())
	return in, nil
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
	ctx = in.cc.arm(ctx, p.rt.cfg.StartTimeout)
	defer in.cc.disarm()
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
