// Package wasmhost runs streamd's sandboxed WebAssembly plugins (partitioners, group
// assignors, transforms) on wazero. The ABI (version 2) is specified in docs/plugin-abi.md;
// plugins/sdk implements its guest side for Go.
//
// Load checks and rewrites a module before wazero sees it (meter.go): size limit, only the
// wasi_snapshot_preview1 functions the Go runtime needs may be imported, every section is
// decoded strictly (wazero's decoder would allocate whatever lengths a module declares),
// locals and tables are bounded, and fuel checks are inserted at function entries, loop
// headers and bulk memory operations. The metered module and wazero's machine code are
// cached under Config.CacheDir, so loading a known module again, also after a restart,
// costs tens of milliseconds. Load then checks the exports the declared Kind needs,
// starts a first instance (running _initialize) and checks abi_version and plugin_kinds.
//
// Every Plugin keeps a bounded pool of instances (a channel, never sync.Pool: wazero keeps
// instances alive until closed). A call takes an instance, encodes the whole batch
// directly into the guest's input buffer (obtained through plugin_alloc only when it must
// grow), calls the kind's export and decodes and checks the result before the instance
// goes back to the pool. Calls allocate no context or timer: each instance reuses one call
// context, and the deadline (Config.CallTimeout, default 1 s) is checked by the refuel
// host function whenever the guest's fuel runs out (about every million instructions),
// which is also where a runaway guest lets the Go scheduler preempt it. Instances are
// limited to Config.MemoryLimitBytes (default 64 MiB) and get no filesystem, network,
// arguments or environment and see fake clocks unless Config grants them; stdout is
// discarded and the start of stderr is kept for errors.
//
// Failures are returned as *CallError naming the plugin and operation and wrapping one of
// ErrTimeout, ErrOutOfMemory, ErrTrap, ErrGuestPanic, ErrGuestFailed, ErrBadResult,
// ErrNotSupported, ErrCanceled or ErrInvalidModule. After a trap, timeout, OOM, recovered
// panic or malformed guest input the instance is closed and a fresh one is started by the
// next call; the host and the other instances keep working. An instance whose memory grew
// past Config.RecycleMemoryBytes is also replaced, since guest memory never shrinks.
//
// Cost (docs/benchmarks.md): a call has a fixed cost of about 2 µs, so calls always carry
// a whole batch; the Go SDK decodes a record in about 20 ns. PartitionInto partitions into
// the caller's slice without allocating; Assign returns the assignment both as maps and as
// sorted lists (Lists) with the count of unassigned partitions, which together with its
// own checks is what assignor.Validate verifies.
package wasmhost
