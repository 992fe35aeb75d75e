package assignor

import (
	"fmt"
	"testing"
)

// benchSpec: members × (topics × partitions), everyone subscribed to everything, unless
// split, in which case even members subscribe to the first half of the topics only.
func benchSpec(members, topics, partitions int, split bool) GroupSpec {
	spec := GroupSpec{Partitions: make(map[string]int32, topics)}
	var names []string
	for t := range topics {
		n := fmt.Sprintf("topic-%03d", t)
		spec.Partitions[n] = int32(partitions)
		names = append(names, n)
	}
	for m := range members {
		ts := names
		if split && m%2 == 0 {
			ts = names[:topics/2]
		}
		spec.Members = append(spec.Members, Member{ID: fmt.Sprintf("member-%04d", m), Topics: ts})
	}
	return spec
}

func BenchmarkAssign(b *testing.B) {
	for _, shape := range []struct {
		name  string
		split bool
	}{{"1000x10000", false}, {"1000x10000-split", true}} {
		spec := benchSpec(1000, 100, 100, shape.split)
		for _, as := range []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky(), Uniform()} {
			// Previous assignment: the same strategy's result for the first 900 members,
			// i.e. 100 members join a running group.
			smaller := spec
			smaller.Members = spec.Members[:900]
			prev, err := as.Assign(smaller)
			if err != nil {
				b.Fatal(err)
			}
			rebalance := withOwned(spec, prev, 1)
			for _, c := range []struct {
				name string
				spec GroupSpec
			}{{"fresh", spec}, {"rebalance", rebalance}} {
				b.Run(fmt.Sprintf("%s/%s/%s", shape.name, as.Name(), c.name), func(b *testing.B) {
					for b.Loop() {
						if _, err := as.Assign(c.spec); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
