// Package sdk is the Go SDK for streamd Wasm plugins. It has no dependencies outside the
// standard library and implements ABI version 2, documented in docs/plugin-abi.md.
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
// Records are decoded without copying: the records slice, the Record and Header values and
// their Key/Value byte slices point into buffers the SDK reuses on the next call. Copy what
// must be kept past the call (strings, such as topic names and header keys, are safe to
// keep). The same holds for Member.UserData in an assignor.
//
// A panic in a registered function is recovered by the SDK and reported as status
// StatusPanic with the panic value as message; the host then replaces the instance.
//
// Performance notes for authors: calls carry whole batches, so per-record work dominates.
// A Go guest pays for every function call that is not inlined and for allocation (the
// guest's garbage collector runs inside the call); keep per-record loops tight, avoid maps
// and per-record allocation, and in an assignor prefer Member.TopicIndexes and
// Assignment.Owners (slices indexed by topic) over the map-shaped fields.
package sdk
