// Command multi is the test plugin of core/wasmhost. Its partitioner misbehaves on
// purpose depending on the topic name: "loop" spins forever, "oom" allocates without
// bound, "panic" panics, "range" returns an out-of-range partition, "fail" returns an
// error, "zero" returns partition 0 for every record (to measure the decode cost); any
// other topic gets an FNV-1a hash of the key modulo the partition count.
package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/streamd/streamd/plugins/sdk"
)

func init() {
	sdk.RegisterPartitioner(partition)
	sdk.RegisterTransform(transform)
	sdk.RegisterAssignor(assign)
}

func main() {}

var (
	sink  [][]byte
	zeros []int32
)

func fnv(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func partition(topic string, n int32, recs []sdk.Record) ([]int32, error) {
	switch topic {
	case "loop":
		for i := 0; ; i++ {
			if i < 0 {
				break
			}
		}
	case "oom":
		// Doubling sizes reach any limit in a few steps (1 MiB steps spend most of the
		// call in the guest's GC and can hit the deadline first on a slow machine).
		for size := 1 << 20; ; size *= 2 {
			sink = append(sink, make([]byte, size))
		}
	case "panic":
		panic("boom: " + string(recs[0].Key))
	case "range":
		out := make([]int32, len(recs))
		out[0] = n
		return out, nil
	case "zero":
		return make([]int32, len(recs)), nil
	case "noalloc":
		if cap(zeros) < len(recs) {
			zeros = make([]int32, len(recs))
		}
		return zeros[:len(recs)], nil
	case "fail":
		return nil, errors.New("refused")
	}
	out := make([]int32, len(recs))
	for i, r := range recs {
		out[i] = int32(fnv(r.Key) % uint32(n))
	}
	return out, nil
}

// transform upper-cases values, drops records whose key is "drop" and appends a header.
// On topic "grants" it returns what the sandbox lets it see instead: the environment
// variable STREAMD_TEST_ENV and the wall clock (milliseconds).
func transform(topic string, p int32, recs []sdk.Record) ([]sdk.Record, error) {
	if topic == "grants" {
		return []sdk.Record{
			{Key: []byte("env"), Value: []byte(os.Getenv("STREAMD_TEST_ENV"))},
			{Key: []byte("now"), Value: []byte(strconv.FormatInt(time.Now().UnixMilli(), 10))},
		}, nil
	}
	out := recs[:0]
	for _, r := range recs {
		if string(r.Key) == "drop" {
			continue
		}
		r.Value = []byte(strings.ToUpper(string(r.Value)))
		r.Headers = append(r.Headers, sdk.Header{Key: "via", Value: []byte(topic)})
		out = append(out, r)
	}
	return out, nil
}

// assign gives every partition of every topic round-robin to the members in order.
func assign(spec sdk.GroupSpec) (sdk.Assignment, error) {
	a := sdk.Assignment{Members: map[string]map[string][]int32{}}
	if len(spec.Members) == 0 {
		return a, errors.New("no members")
	}
	i := 0
	for _, t := range sortedKeys(spec.Topics) {
		for p := int32(0); p < spec.Topics[t]; p++ {
			m := spec.Members[i%len(spec.Members)].ID
			if a.Members[m] == nil {
				a.Members[m] = map[string][]int32{}
			}
			a.Members[m][t] = append(a.Members[m][t], p)
			i++
		}
	}
	return a, nil
}

func sortedKeys(m map[string]int32) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}
