// Command weighted is an example group assignor plugin: members get partitions in
// proportion to a weight, so a consumer on a big machine takes a bigger share. The weight
// comes from the client id (or group.instance.id) the consumer was started with: one
// ending in "-wN" (N from 1 to 100, e.g. "ingest-w3") weighs N, any other weighs 1. The
// coordinator's member ids are that id followed by "-" and 32 hex digits, which is how
// the plugin finds it.
//
// For every topic, its partitions are split among the members subscribed to it by the
// largest-remainder method on the weights (ties go to the smaller member id) and handed
// out as contiguous ranges in member-id order. The result depends only on the members and
// the partition counts, so every rebalance with the same members gives the same answer.
//
// Build, upload and use it: see README.md.
package main

import (
	"sort"
	"strconv"
	"strings"

	"github.com/streamd/streamd/plugins/sdk"
)

func init() { sdk.RegisterAssignor(Assign) }

func main() {}

// Weight is the weight of a member id: "-wN" at the end of its client or instance id.
func Weight(memberID string) int {
	id := memberID
	if i := strings.LastIndexByte(id, '-'); i >= 0 && len(id)-i-1 == 32 {
		id = id[:i] // drop the coordinator's "-<32 hex>" suffix
	}
	i := strings.LastIndex(id, "-w")
	if i < 0 {
		return 1
	}
	n, err := strconv.Atoi(id[i+2:])
	if err != nil || n < 1 || n > 100 {
		return 1
	}
	return n
}

// Assign is the registered assignor.
func Assign(spec sdk.GroupSpec) (sdk.Assignment, error) {
	out := sdk.Assignment{Members: map[string]map[string][]int32{}}
	for _, m := range spec.Members {
		out.Members[m.ID] = map[string][]int32{}
	}
	topics := make([]string, 0, len(spec.Topics))
	for t := range spec.Topics {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		var subs []string
		for _, m := range spec.Members {
			for _, st := range m.Topics {
				if st == t {
					subs = append(subs, m.ID)
					break
				}
			}
		}
		if len(subs) == 0 {
			continue
		}
		sort.Strings(subs)
		quota := shares(int(spec.Topics[t]), subs)
		p := int32(0)
		for i, id := range subs {
			for k := 0; k < quota[i]; k++ {
				out.Members[id][t] = append(out.Members[id][t], p)
				p++
			}
		}
	}
	return out, nil
}

// shares splits n partitions among members by weight (largest remainder).
func shares(n int, members []string) []int {
	total := 0
	ws := make([]int, len(members))
	for i, m := range members {
		ws[i] = Weight(m)
		total += ws[i]
	}
	q := make([]int, len(members))
	rem := make([]int, len(members))
	given := 0
	for i, w := range ws {
		q[i] = n * w / total
		rem[i] = n * w % total
		given += q[i]
	}
	order := make([]int, len(members))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rem[order[a]] > rem[order[b]] })
	for k := 0; given < n; k++ {
		q[order[k%len(order)]]++
		given++
	}
	return q
}
