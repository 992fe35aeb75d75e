//go:build wasip1

package sdk

import (
	"runtime"
	"unsafe"
)

// The exports below are the plugin ABI (docs/plugin-abi.md). Pointers are wasm32
// linear-memory addresses.

// inBuf is the input buffer handed to the host by plugin_alloc; it stays valid for every
// later call until the host asks for a larger one.
var inBuf []byte

//go:wasmexport abi_version
func abiVersion() int32 { return ABIVersion }

//go:wasmexport plugin_kinds
func pluginKinds() int32 { return registeredKinds() }

// plugin_alloc returns the address of an 8-byte aligned buffer of at least size bytes,
// which holds the input of every following call until the next plugin_alloc.
//
//go:wasmexport plugin_alloc
func pluginAlloc(size uint32) uint32 {
	if cap(inBuf) < int(size) || cap(inBuf) == 0 {
		inBuf = make([]byte, max(int(size), 8)) // Go allocations of ≥ 8 bytes are 8-aligned
	}
	return addr(inBuf)
}

//go:wasmexport partition
func partitionExport(ptr, size uint32) uint64 { return call(ptr, size, handlePartition) }

//go:wasmexport transform
func transformExport(ptr, size uint32) uint64 { return call(ptr, size, handleTransform) }

//go:wasmexport assign
func assignExport(ptr, size uint32) uint64 { return call(ptr, size, handleAssign) }

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// call checks that the input lies in the plugin_alloc buffer, runs h and returns the
// result buffer packed as ptr<<32 | len.
func call(ptr, size uint32, h func(in, out []byte) []byte) uint64 {
	var out []byte
	if cap(inBuf) == 0 || ptr != addr(inBuf) || int(size) > cap(inBuf) {
		out = errResult(outBuf, StatusBadInput, "sdk: input not in the plugin_alloc buffer")
	} else {
		out = h(inBuf[:size], outBuf)
	}
	outBuf = out
	// Let goroutines the plugin or the runtime started (GC workers, finalizers) run: a
	// reactor only schedules them while an export is running.
	runtime.Gosched()
	return uint64(addr(out))<<32 | uint64(len(out))
}
