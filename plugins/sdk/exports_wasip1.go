//go:build wasip1

package sdk

import (
	"runtime"
	"unsafe"
)

// The exports below are the plugin ABI (docs/plugin-abi.md). Pointers are wasm32
// linear-memory addresses.

var (
	inBuf  = make([]byte, 0, 64<<10) // input placed by the host via plugin_alloc
	outBuf = make([]byte, 0, 64<<10) // result of the last call; valid until the next call
)

//go:wasmexport abi_version
func abiVersion() int32 { return ABIVersion }

//go:wasmexport plugin_kinds
func pluginKinds() int32 { return registeredKinds() }

// plugin_alloc returns the address of a buffer of at least size bytes for the host to
// write the next call's input into. The buffer is reused by later calls.
//
//go:wasmexport plugin_alloc
func pluginAlloc(size uint32) uint32 {
	if cap(inBuf) < int(size) || cap(inBuf) == 0 {
		inBuf = make([]byte, 0, max(int(size), 1))
	}
	return addr(inBuf[:1])
}

//go:wasmexport partition
func partitionExport(ptr, size uint32) uint64 { return call(ptr, size, handlePartition) }

//go:wasmexport transform
func transformExport(ptr, size uint32) uint64 { return call(ptr, size, handleTransform) }

//go:wasmexport assign
func assignExport(ptr, size uint32) uint64 { return call(ptr, size, handleAssign) }

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// call checks that the input is the buffer handed out by plugin_alloc, runs h and returns
// the result buffer packed as ptr<<32 | len.
func call(ptr, size uint32, h func(in, out []byte) []byte) uint64 {
	var out []byte
	if cap(inBuf) == 0 || ptr != addr(inBuf[:1]) || int(size) > cap(inBuf) {
		out = errResult(outBuf, StatusBadInput, "sdk: input not at the plugin_alloc buffer")
	} else {
		out = h(inBuf[:size], outBuf)
	}
	outBuf = out
	// Let goroutines the plugin or the runtime started (GC workers, finalizers) run: a
	// reactor only schedules them while an export is running.
	runtime.Gosched()
	return uint64(addr(out))<<32 | uint64(len(out))
}
