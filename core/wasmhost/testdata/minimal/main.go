// Command minimal is the smallest useful plugin: a partitioner hashing the key (FNV-1a),
// with nothing but the SDK. core/wasmhost measures its load time as the typical case.
package main

import "github.com/streamd/streamd/plugins/sdk"

func init() {
	sdk.RegisterPartitioner(func(_ string, n int32, recs []sdk.Record) ([]int32, error) {
		out := sdk.PartitionBuffer(len(recs))
		for i := range recs {
			h := uint32(2166136261)
			for _, c := range recs[i].Key {
				h = (h ^ uint32(c)) * 16777619
			}
			out[i] = int32(h % uint32(n))
		}
		return out, nil
	})
}

func main() {}
