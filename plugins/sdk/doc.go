// Package sdk is the Go SDK for streamd Wasm plugins (GOOS=wasip1, //go:wasmexport).
// It has no dependencies. The ABI it implements is documented in docs/plugin-abi.md once
// the plugin host lands.
package sdk
