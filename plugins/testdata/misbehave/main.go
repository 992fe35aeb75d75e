// Command misbehave is a test plugin (partitioner and assignor) that misbehaves on
// purpose, chosen by the topic or group name it is called for:
//
//	partitioner, topic name starts with   assignor, group name starts with
//	  loop      spins forever               loop      spins forever
//	  oom       allocates without bound     fail      returns an error
//	  panic     panics                      panic     panics
//	  garbage   returns too few partitions  dup       gives a partition to two members
//	  range     returns partition n         invalid   assigns nothing (host rejects it)
//
// Any other topic gets FNV-1a(key) mod n; any other group a round-robin assignment of
// every partition in topic and partition order.
package main

import (
	"errors"
	"sort"
	"strings"

	"github.com/streamd/streamd/plugins/sdk"
)

func init() {
	sdk.RegisterPartitioner(partition)
	sdk.RegisterAssignor(assign)
}

func main() {}

var sink [][]byte

// FNV is FNV-1a of b (exported in spirit: tests compute the same placement natively).
func FNV(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func partition(topic string, n int32, recs []sdk.Record) ([]int32, error) {
	switch {
	case strings.HasPrefix(topic, "loop"):
		for i := 0; ; i++ {
			if i < 0 {
				break
			}
		}
	case strings.HasPrefix(topic, "oom"):
		for size := 1 << 20; ; size *= 2 {
			sink = append(sink, make([]byte, size))
		}
	case strings.HasPrefix(topic, "panic"):
		panic("misbehave: panic on purpose for topic " + topic)
	case strings.HasPrefix(topic, "garbage"):
		return make([]int32, len(recs)/2), nil
	case strings.HasPrefix(topic, "range"):
		out := make([]int32, len(recs))
		for i := range out {
			out[i] = n
		}
		return out, nil
	}
	out := make([]int32, len(recs))
	for i, r := range recs {
		out[i] = int32(FNV(r.Key) % uint32(n))
	}
	return out, nil
}

func assign(spec sdk.GroupSpec) (sdk.Assignment, error) {
	a := sdk.Assignment{Members: map[string]map[string][]int32{}}
	switch {
	case strings.HasPrefix(spec.Group, "loop"):
		for i := 0; ; i++ {
			if i < 0 {
				break
			}
		}
	case strings.HasPrefix(spec.Group, "fail"):
		return a, errors.New("misbehave: refusing to assign group " + spec.Group)
	case strings.HasPrefix(spec.Group, "panic"):
		panic("misbehave: panic on purpose for group " + spec.Group)
	case strings.HasPrefix(spec.Group, "invalid"):
		return a, nil
	}
	if len(spec.Members) == 0 {
		return a, nil
	}
	members := make([]string, len(spec.Members))
	for i, m := range spec.Members {
		members[i] = m.ID
		a.Members[m.ID] = map[string][]int32{}
	}
	sort.Strings(members)
	topics := make([]string, 0, len(spec.Topics))
	for t := range spec.Topics {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	i := 0
	for _, t := range topics {
		for p := int32(0); p < spec.Topics[t]; p++ {
			m := members[i%len(members)]
			a.Members[m][t] = append(a.Members[m][t], p)
			if strings.HasPrefix(spec.Group, "dup") && i == 0 && len(members) > 1 {
				a.Members[members[1]][t] = append(a.Members[members[1]][t], p)
			}
			i++
		}
	}
	return a, nil
}
