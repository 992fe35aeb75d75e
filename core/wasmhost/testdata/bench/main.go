// Command bench is the benchmark plugin of core/wasmhost: the Java client's default
// partitioner (murmur2 of the key) and Kafka's round-robin and range assignors, written
// against the SDK the way a plugin author would, so that their cost can be compared with
// the built-in Go implementations (partitioner.Murmur2, assignor.RoundRobin/Range). The
// partitioner hashes with partitioner.Murmur2Hash, the very function the native one runs,
// so that the comparison measures the Wasm path (SDK decoding, the call, result checks).
//
// The assignor is chosen by the group name: "range" or anything else for round-robin;
// a group name starting with "builtin-" runs the host's own assignor package compiled
// into the plugin unchanged ("builtin-range", "builtin-roundrobin").
package main

import (
	"errors"
	"slices"
	"strings"

	"github.com/streamd/streamd/assignor"
	"github.com/streamd/streamd/partitioner"
	"github.com/streamd/streamd/plugins/sdk"
)

func init() {
	sdk.RegisterPartitioner(partition)
	sdk.RegisterAssignor(assign)
}

func main() {}

// partition places keyed records like the Java client; keyless records go to partition 0
// (the built-in picks a random partition per batch). The result goes into the SDK's
// reusable buffer, except for topic "alloc", which allocates it per batch.
func partition(topic string, n int32, recs []sdk.Record) ([]int32, error) {
	var out []int32
	if topic == "alloc" {
		out = make([]int32, len(recs))
	} else {
		out = sdk.PartitionBuffer(len(recs))
	}
	for i := range recs {
		if k := recs[i].Key; k != nil {
			out[i] = (partitioner.Murmur2Hash(k) & 0x7fffffff) % n
		} else {
			out[i] = 0
		}
	}
	return out, nil
}

func assign(spec sdk.GroupSpec) (sdk.Assignment, error) {
	if name, ok := strings.CutPrefix(spec.Group, "builtin-"); ok {
		return builtin(name, spec)
	}
	if len(spec.Members) == 0 {
		return sdk.Assignment{}, errors.New("no members")
	}
	// Kafka's member order: static members by instance id, then dynamic ones by id.
	order := make([]int32, len(spec.Members))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		ma, mb := &spec.Members[a], &spec.Members[b]
		switch {
		case ma.InstanceID != "" && mb.InstanceID != "":
			if c := strings.Compare(ma.InstanceID, mb.InstanceID); c != 0 {
				return c
			}
		case ma.InstanceID != "":
			return -1
		case mb.InstanceID != "":
			return 1
		}
		return strings.Compare(ma.ID, mb.ID)
	})
	// subscribed[k*T+t]: the k-th member in order subscribes to topic t.
	T := len(spec.TopicList)
	subscribed := make([]bool, len(order)*T)
	for k, mi := range order {
		for _, t := range spec.Members[mi].TopicIndexes {
			subscribed[k*T+int(t)] = true
		}
	}
	owners := spec.NewOwners()
	if spec.Group == "range" {
		var subs []int32
		for t := range spec.TopicList {
			subs = subs[:0]
			for k := range order {
				if subscribed[k*T+t] {
					subs = append(subs, int32(k))
				}
			}
			n, m := int(spec.TopicList[t].Partitions), len(subs)
			if m == 0 {
				continue
			}
			p := 0
			for j, k := range subs {
				c := n / m
				if j < n%m {
					c++
				}
				for ; c > 0; c-- {
					owners[t][p] = order[k]
					p++
				}
			}
		}
		return sdk.Assignment{Owners: owners}, nil
	}
	next := 0
	for t := range spec.TopicList {
		if spec.TopicList[t].Partitions == 0 {
			continue
		}
		has := false
		for k := range order {
			if subscribed[k*T+t] {
				has = true
				break
			}
		}
		if !has {
			continue
		}
		for p := range owners[t] {
			for !subscribed[next*T+t] {
				next = (next + 1) % len(order)
			}
			owners[t][p] = order[next]
			next = (next + 1) % len(order)
		}
	}
	return sdk.Assignment{Owners: owners}, nil
}

// builtin runs the assignor package (the broker's built-in strategies) on the spec.
func builtin(name string, spec sdk.GroupSpec) (sdk.Assignment, error) {
	as, ok := assignor.ByName(name)
	if !ok {
		return sdk.Assignment{}, errors.New("unknown assignor " + name)
	}
	in := assignor.GroupSpec{Partitions: spec.Topics, Members: make([]assignor.Member, len(spec.Members))}
	for i, m := range spec.Members {
		am := &in.Members[i]
		am.ID, am.InstanceID, am.Rack, am.Topics, am.Generation = m.ID, m.InstanceID, m.Rack, m.Topics, m.Generation
		for t, ps := range m.Owned {
			for _, p := range ps {
				am.Owned = append(am.Owned, assignor.TopicPartition{Topic: t, Partition: p})
			}
		}
	}
	res, err := as.Assign(in)
	if err != nil {
		return sdk.Assignment{}, err
	}
	a := sdk.Assignment{Members: make(map[string]map[string][]int32, len(res))}
	for id, tps := range res {
		mm := make(map[string][]int32)
		for _, tp := range tps {
			mm[tp.Topic] = append(mm[tp.Topic], tp.Partition)
		}
		a.Members[id] = mm
	}
	return a, nil
}
