//go:build !wasip1

// The Wasm adapter runs on the host only: a plugin built for wasip1 may import this
// package for its pure strategies without pulling in the host runtime.

package assignor

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/streamd/streamd/core/wasmhost"
)

// PluginPrefix starts the name of a Wasm assignor: "wasm:NAME".
const PluginPrefix = wasmhost.PluginPrefix

// PluginSource hands out the current version of an uploaded plugin (wasmhost.Source).
type PluginSource = wasmhost.Source

type wasmAssignor struct {
	name string
	src  PluginSource
}

// Wasm returns the strategy "wasm:NAME", which runs the current version of the uploaded
// assignor plugin NAME (ABI in docs/plugin-abi.md). The plugin sees the group id, every
// member (id, subscribed topics, owned partitions; members sorted by id) and the
// partition count of every existing subscribed topic. Its result is checked by the host
// (known members and topics, partitions in range, none twice); the coordinator also runs
// Validate on it. Every member gets an entry in the returned Assignment.
func Wasm(name string, src PluginSource) Assignor { return &wasmAssignor{name: name, src: src} }

func (w *wasmAssignor) Name() string { return PluginPrefix + w.name }

func (w *wasmAssignor) Assign(spec GroupSpec) (Assignment, error) {
	p, release, err := w.src.Acquire(w.name, wasmhost.KindAssignor)
	if err != nil {
		return nil, fmt.Errorf("assignor: %s%s: %w", PluginPrefix, w.name, err)
	}
	defer release()
	in := wasmhost.GroupSpec{Group: spec.Group, Topics: map[string]int32{}}
	for t, n := range spec.Partitions {
		if n > 0 {
			in.Topics[t] = n
		}
	}
	members := slices.Clone(spec.Members)
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	for _, m := range members {
		wm := wasmhost.Member{ID: m.ID, InstanceID: m.InstanceID, Rack: m.Rack,
			Topics: slices.Sorted(slices.Values(m.Topics)), Generation: m.Generation}
		for _, tp := range m.Owned {
			if wm.Owned == nil {
				wm.Owned = map[string][]int32{}
			}
			wm.Owned[tp.Topic] = append(wm.Owned[tp.Topic], tp.Partition)
		}
		for _, ps := range wm.Owned {
			slices.Sort(ps)
		}
		in.Members = append(in.Members, wm)
	}
	res, err := p.Assign(context.Background(), in)
	if err != nil {
		return nil, fmt.Errorf("assignor: %s%s: %w", PluginPrefix, w.name, err)
	}
	out := make(Assignment, len(members))
	for _, m := range members {
		tps := res.Lists[m.ID] // sorted by (topic, partition)
		conv := make([]TopicPartition, len(tps))
		for i, tp := range tps {
			conv[i] = TopicPartition(tp)
		}
		out[m.ID] = conv
	}
	return out, nil
}
