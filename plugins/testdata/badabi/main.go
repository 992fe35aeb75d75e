// Command badabi is a test module that has every export of a partitioner but reports ABI
// version 99, which the host does not support; it does not use the SDK.
package main

import "unsafe"

var buf = make([]byte, 1<<16)

//go:wasmexport abi_version
func abiVersion() int32 { return 99 }

//go:wasmexport plugin_kinds
func pluginKinds() int32 { return 1 }

//go:wasmexport plugin_alloc
func pluginAlloc(size int32) int32 {
	if int(size) > len(buf) {
		buf = make([]byte, size)
	}
	return int32(uintptr(unsafe.Pointer(&buf[0])))
}

//go:wasmexport partition
func partition(ptr, n int32) int64 { return 0 }

func main() {}
