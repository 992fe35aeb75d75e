// Command evil is a test partitioner that imports a host function outside the allowed
// WASI set; the host must reject it at upload.
package main

import "github.com/streamd/streamd/plugins/sdk"

//go:wasmimport env open_socket
func openSocket(port int32) int32

func init() {
	sdk.RegisterPartitioner(func(_ string, n int32, recs []sdk.Record) ([]int32, error) {
		out := make([]int32, len(recs))
		for i := range out {
			out[i] = openSocket(9092) % n
		}
		return out, nil
	})
}

func main() {}
