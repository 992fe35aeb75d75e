// Package wasmhost runs streamd's sandboxed WebAssembly plugins (partitioners, group
// assignors, transforms) on wazero. The ABI is versioned and specified in
// docs/plugin-abi.md; plugins/sdk implements its guest side for Go.
//
// A Runtime compiles each module once (optionally through an on-disk compilation cache)
// and validates it at Load: size limit, only the wasi_snapshot_preview1 functions the Go
// runtime needs may be imported, the exports the declared Kind needs must exist with the
// right signatures, abi_version must be 1 and plugin_kinds must include the kind. The
// first instance is started during Load (running _initialize), so a module that cannot
// start within the limits is rejected there.
//
// Every Plugin keeps a bounded pool of instances (a channel, never sync.Pool: wazero keeps
// instances alive until closed). A call takes an instance, encodes the whole batch into
// the guest through plugin_alloc, calls the kind's export under a deadline
// (Config.CallTimeout, default 1 s, enforced with WithCloseOnContextDone) and decodes and
// checks the result before the instance goes back to the pool. Instances are limited to
// Config.MemoryLimitBytes (default 64 MiB) and get no filesystem, environment, arguments,
// network or real clock; stdout is discarded and the start of stderr is kept for errors.
//
// Failures are returned as *CallError naming the plugin and operation and wrapping one of
// ErrTimeout, ErrOutOfMemory, ErrTrap, ErrGuestPanic, ErrGuestFailed, ErrBadResult,
// ErrNotSupported, ErrCanceled or ErrInvalidModule. After a trap, timeout, OOM, recovered
// panic or malformed guest input the instance is closed and a fresh one is started by the
// next call; the host and the other instances keep working. An instance whose memory grew
// past Config.RecycleMemoryBytes is also replaced, since guest memory never shrinks.
//
// Cost: the deadline check wazero compiles into every loop back-edge and call dominates a
// Go guest's run time, so calls always carry a whole batch (see BenchmarkPartition1000).
package wasmhost
