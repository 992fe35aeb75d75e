package wasmhost

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// ABIVersion is the only plugin ABI version this host accepts. Version 1 (nested record
// encoding, JSON assignor) was never released; its modules are rejected at Load.
const ABIVersion = 2

// Defaults of Config fields left zero.
const (
	DefaultMaxModuleBytes   = 32 << 20
	DefaultMemoryLimitBytes = 64 << 20
	DefaultCallTimeout      = time.Second
	DefaultStartTimeout     = 10 * time.Second
	DefaultPoolSize         = 4
	minMemoryLimitBytes     = 4 << 20 // a Go guest needs ~40 pages to initialise
	pageSize                = 64 << 10
)

// Config configures a Runtime. The zero value is usable; every field documents its default.
type Config struct {
	// CacheDir, when set, keeps compiled machine code (wazero's cache) and metered
	// modules (subdirectory meter-v2) on disk, so that loading the same module again,
	// also after a restart, takes tens of milliseconds instead of ~0.5-1 s. Typically a
	// directory under the broker's data dir.
	CacheDir string
	// MaxModuleBytes rejects larger modules at Load. Default 32 MiB.
	MaxModuleBytes int
	// MemoryLimitBytes caps each instance's linear memory (rounded up to 64 KiB pages,
	// at least 4 MiB). Default 64 MiB. A guest exceeding it fails with ErrOutOfMemory.
	MemoryLimitBytes uint64
	// RecycleMemoryBytes: an instance whose memory grew beyond this is discarded after
	// its call (guest memory never shrinks). Default MemoryLimitBytes/2.
	RecycleMemoryBytes uint64
	// CallTimeout bounds each batch call. Default 1 s.
	CallTimeout time.Duration
	// StartTimeout bounds starting an instance (the guest's _initialize and the load
	// checks), which takes milliseconds on an idle machine but far longer on a loaded
	// one; it is kept apart from CallTimeout so a busy host does not reject a good module.
	// Default 10 s (never below CallTimeout).
	StartTimeout time.Duration
	// PoolSize is the maximum number of live instances per plugin, i.e. of concurrent
	// calls; further callers wait. Default 4.
	PoolSize int
	// Logger receives instance discards. Default slog.Default().
	Logger *slog.Logger

	// Grants. Plugins get no filesystem, network, arguments or environment and see fake
	// clocks (deterministic, not wall time) and a deterministic random source unless a
	// grant below says otherwise.

	// WallClock grants the real wall-clock and monotonic time (sleeping still returns
	// at once: a call cannot block).
	WallClock bool
	// Env is the environment plugins see. Default: none.
	Env map[string]string
	// CryptoRandom makes random_get read crypto/rand instead of a deterministic source.
	CryptoRandom bool
}

func (c Config) withDefaults() Config {
	if c.MaxModuleBytes <= 0 {
		c.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if c.MemoryLimitBytes == 0 {
		c.MemoryLimitBytes = DefaultMemoryLimitBytes
	}
	c.MemoryLimitBytes = max(c.MemoryLimitBytes, minMemoryLimitBytes)
	c.MemoryLimitBytes = min((c.MemoryLimitBytes+pageSize-1)/pageSize*pageSize, 65536*pageSize)
	if c.RecycleMemoryBytes == 0 {
		c.RecycleMemoryBytes = c.MemoryLimitBytes / 2
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	c.StartTimeout = max(c.StartTimeout, c.CallTimeout)
	if c.PoolSize <= 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// allowedImports are the only host functions a plugin may import: those the Go wasip1
// runtime links in. No preopened directories, sockets, env or args are granted, and the
// clocks are wazero's fake ones, so even these reach nothing outside the sandbox.
var allowedImports = map[string]bool{
	"args_get": true, "args_sizes_get": true, "environ_get": true, "environ_sizes_get": true,
	"clock_time_get": true, "fd_write": true, "fd_close": true, "fd_fdstat_get": true,
	"fd_fdstat_set_flags": true, "fd_prestat_get": true, "fd_prestat_dir_name": true,
	"poll_oneoff": true, "proc_exit": true, "random_get": true, "sched_yield": true,
}

// Runtime compiles and hosts plugins. It is safe for concurrent use.
type Runtime struct {
	cfg    Config
	rt     wazero.Runtime
	cache  wazero.CompilationCache
	modCfg wazero.ModuleConfig // per-instance configuration: the grants

	mu      sync.Mutex
	closed  bool
	plugins map[*Plugin]struct{}
}

// NewRuntime creates a runtime. Close releases it and every plugin loaded by it.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg = cfg.withDefaults()
	// Runaway guests are stopped by metering (meter.go), not by WithCloseOnContextDone,
	// whose per-loop-iteration exit to Go made guests an order of magnitude slower.
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(false).
		WithMemoryLimitPages(uint32(cfg.MemoryLimitBytes / pageSize))
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("wasmhost: compilation cache: %w", err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	_, err := wasi_snapshot_preview1.Instantiate(ctx, rt)
	if err == nil {
		err = instantiateMeter(ctx, rt)
	}
	if err != nil {
		_ = rt.Close(ctx)
		if cache != nil {
			_ = cache.Close(ctx)
		}
		return nil, fmt.Errorf("wasmhost: host modules: %w", err)
	}
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize")
	if cfg.WallClock {
		mc = mc.WithSysWalltime().WithSysNanotime()
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Env)) {
		mc = mc.WithEnv(k, cfg.Env[k])
	}
	if cfg.CryptoRandom {
		mc = mc.WithRandSource(rand.Reader)
	}
	return &Runtime{cfg: cfg, rt: rt, cache: cache, modCfg: mc, plugins: map[*Plugin]struct{}{}}, nil
}

func (r *Runtime) moduleConfig() wazero.ModuleConfig { return r.modCfg }

// Close closes every plugin and the runtime. Calls in flight fail.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	ps := r.plugins
	r.plugins = nil
	r.mu.Unlock()
	for p := range ps {
		p.close(ctx)
	}
	err := r.rt.Close(ctx)
	if r.cache != nil {
		if cerr := r.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	return err
}

// Load compiles and validates a plugin module of the given kind and starts one instance.
// It rejects, with an error wrapping ErrInvalidModule that gives the reason, a module that
// is too large, does not compile, imports anything but the allowed WASI functions, lacks
// an export the kind needs, reports another ABI version, does not register the kind, or
// fails to start within the memory and time limits.
func (r *Runtime) Load(ctx context.Context, name string, wasm []byte, kind Kind) (*Plugin, error) {
	invalid := func(format string, a ...any) error {
		return &CallError{Plugin: name, Op: "load", Err: ErrInvalidModule, Detail: fmt.Sprintf(format, a...)}
	}
	if kind.export() == "" {
		return nil, invalid("unknown kind %d", kind)
	}
	if len(wasm) > r.cfg.MaxModuleBytes {
		return nil, invalid("module is %d bytes, limit %d", len(wasm), r.cfg.MaxModuleBytes)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	metered, err := r.meter(wasm)
	if err != nil {
		return nil, invalid("%v", err)
	}
	cm, err := r.rt.CompileModule(ctx, metered)
	if err != nil {
		return nil, invalid("compile: %v", err)
	}
	if reason := validate(cm, kind); reason != "" {
		_ = cm.Close(ctx)
		return nil, invalid("%s", reason)
	}
	p := &Plugin{
		name: name, kind: kind, rt: r, compiled: cm,
		slots: make(chan struct{}, r.cfg.PoolSize),
		idle:  make(chan *instance, r.cfg.PoolSize),
	}
	if err := p.check(ctx); err != nil {
		p.close(ctx)
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		p.close(ctx)
		return nil, ErrClosed
	}
	r.plugins[p] = struct{}{}
	return p, nil
}

// meterCacheVersion names the rewriting done by meter; change it whenever meter's output
// for a given input may change.
const meterCacheVersion = "meter-v2"

// meter returns the metered form of wasm (meter.go). With a CacheDir, the result is kept
// on disk under the input's SHA-256, which saves the rewrite (about a third of a cached
// Load) the next time the same module is loaded. A module is cached only once it passed
// meter's checks, so a cache hit stands for them.
func (r *Runtime) meter(wasm []byte) ([]byte, error) {
	allowed := func(fn string) bool { return allowedImports[fn] }
	if r.cfg.CacheDir == "" {
		return meter(wasm, allowed)
	}
	sum := sha256.Sum256(wasm)
	path := filepath.Join(r.cfg.CacheDir, meterCacheVersion, hex.EncodeToString(sum[:])+".wasm")
	if b, err := os.ReadFile(path); err == nil && len(b) > 8 {
		return b, nil
	}
	metered, err := meter(wasm, allowed)
	if err != nil {
		return nil, err
	}
	// Best effort: a module that cannot be cached is metered again next time.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		if f, err := os.CreateTemp(filepath.Dir(path), "tmp-*"); err == nil {
			_, werr := f.Write(metered)
			if cerr := f.Close(); werr == nil && cerr == nil {
				werr = os.Rename(f.Name(), path)
			}
			if werr != nil {
				os.Remove(f.Name())
			}
		}
	}
	return metered, nil
}

// validate checks imports and exports of a compiled module; it returns "" or a reason.
func validate(cm wazero.CompiledModule, kind Kind) string {
	for _, f := range cm.ImportedFunctions() {
		mod, fn, _ := f.Import()
		if mod == meterModule && fn == meterFunc {
			continue
		}
		if mod != wasi_snapshot_preview1.ModuleName || !allowedImports[fn] {
			return fmt.Sprintf("import %s.%s is not allowed (only the wasi_snapshot_preview1 functions the Go runtime needs)", mod, fn)
		}
	}
	if len(cm.ImportedMemories()) > 0 {
		return "imported memories are not allowed"
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		return `missing export "memory"`
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	want := []struct {
		name            string
		params, results []api.ValueType
	}{
		{"abi_version", nil, []api.ValueType{i32}},
		{"plugin_kinds", nil, []api.ValueType{i32}},
		{"plugin_alloc", []api.ValueType{i32}, []api.ValueType{i32}},
		{kind.export(), []api.ValueType{i32, i32}, []api.ValueType{i64}},
	}
	exports := cm.ExportedFunctions()
	for _, w := range want {
		f, ok := exports[w.name]
		if !ok {
			return fmt.Sprintf("missing export %q required for a %s", w.name, kind)
		}
		if !sameTypes(f.ParamTypes(), w.params) || !sameTypes(f.ResultTypes(), w.results) {
			return fmt.Sprintf("export %q has signature %v -> %v, want %v -> %v",
				w.name, typeNames(f.ParamTypes()), typeNames(f.ResultTypes()), typeNames(w.params), typeNames(w.results))
		}
	}
	return ""
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func typeNames(ts []api.ValueType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = api.ValueTypeName(t)
	}
	return out
}
