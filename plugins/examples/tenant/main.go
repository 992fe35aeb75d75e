// Command tenant is an example partitioner plugin: a record whose key starts with a
// region prefix ("eu:", "us:", "ap:") goes to that region's fixed range of partitions,
// so each region's data stays on its own partitions (and, with partition-aware
// consumers, on its own machines). Within the range, FNV-1a of the whole key picks the
// partition, so one tenant's records stay in order. Keys without a known prefix, and
// records without a key, spread over every partition.
//
// Ranges are fractions of the topic's partition count, so the plugin works for any
// count; with 16 partitions "eu" owns 0-7, "us" 8-11 and "ap" 12-15. Every range has
// at least one partition.
//
// Build, upload and use it: see README.md.
package main

import (
	"bytes"

	"github.com/streamd/streamd/plugins/sdk"
)

func init() { sdk.RegisterPartitioner(Partition) }

func main() {}

// region is a key prefix and its share [lo, hi) of the partitions, in sixteenths.
type region struct {
	prefix []byte
	lo, hi int32
}

var regions = []region{
	{[]byte("eu:"), 0, 8},
	{[]byte("us:"), 8, 12},
	{[]byte("ap:"), 12, 16},
}

// Range returns the partitions [lo, hi) of the region the key belongs to, among n.
func Range(key []byte, n int32) (lo, hi int32) {
	for _, r := range regions {
		if bytes.HasPrefix(key, r.prefix) {
			lo, hi = r.lo*n/16, r.hi*n/16
			lo = min(lo, n-1)
			return lo, max(hi, lo+1)
		}
	}
	return 0, n
}

// Partition places each record in its region's range (the registered function).
func Partition(_ string, n int32, recs []sdk.Record) ([]int32, error) {
	out := make([]int32, len(recs))
	for i, r := range recs {
		lo, hi := Range(r.Key, n)
		out[i] = lo + int32(fnv(r.Key)%uint32(hi-lo))
	}
	return out, nil
}

func fnv(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
