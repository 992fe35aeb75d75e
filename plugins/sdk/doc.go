// Package sdk is the Go SDK for streamd Wasm plugins. It has no dependencies outside the
// standard library and implements ABI version 1, documented in docs/plugin-abi.md.
//
// A plugin is a `package main` built as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o p.wasm ./myplugin
//
// that registers its function in init and has an empty main:
//
//	func init() { sdk.RegisterPartitioner(myPartition) }
//	func main() {}
//
// The SDK owns every export (//go:wasmexport, see exports_wasip1.go) and the memory
// protocol; the plugin author only writes batch functions. The host calls each export with
// a whole batch, never one record at a time.
//
// Encodings (all integers little-endian; see docs/plugin-abi.md for the normative text):
//
//	records   := u32 count, record*count
//	record    := i64 timestamp_ms, bytes key, bytes value, u32 nheaders, header*nheaders
//	header    := u32 klen, key[klen], bytes value
//	bytes     := i32 len (-1 = null), data[len]
//	partition input  := u32 tlen, topic, i32 num_partitions, records
//	partition output := u32 status=0, u32 count, i32*count
//	transform input  := u32 tlen, topic, i32 partition, records
//	transform output := u32 status=0, records
//	assign input     := JSON GroupSpec;  assign output := u32 status=0, JSON Assignment
//	error output     := u32 status!=0, UTF-8 message (rest of the buffer)
//
// A panic in a registered function is recovered by the SDK and reported as status
// StatusPanic with the panic value as message, so the instance stays usable.
//
// The records slice, the Record and Header values and their byte slices passed to a
// registered function alias buffers the SDK reuses on the next call (allocation is
// expensive in a Go guest); copy what must be kept past the call.
package sdk
