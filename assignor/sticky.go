package assignor

import "slices"

type stickyAssignor struct {
	name        string
	cooperative bool
}

// Sticky returns the eager sticky assignor (Kafka's StickyAssignor, KIP-54 semantics): the
// result is as balanced as the subscriptions allow and, within that, keeps as many of the
// members' Owned partitions as possible. See the package documentation for the algorithm.
func Sticky() Assignor { return stickyAssignor{name: "sticky"} }

// Uniform returns the server-side "uniform" assignor of KIP-848. It runs the same core as
// Sticky; see the package documentation for the differences from Kafka's UniformAssignor.
func Uniform() Assignor { return stickyAssignor{name: "uniform"} }

// CooperativeSticky returns the cooperative sticky assignor (KIP-429): it computes the
// Sticky target and then withholds every partition the target gives to a member that is
// not its current owner while some member still claims it. Such a partition appears in
// nobody's list this round (the old owner is told to revoke it); after the owner rejoins
// without it, the follow-up rebalance assigns it. The first-phase result therefore may fail
// Validate with ErrUnassigned, and only with that error.
func CooperativeSticky() Assignor {
	return stickyAssignor{name: "cooperative-sticky", cooperative: true}
}

func (s stickyAssignor) Name() string { return s.name }

func (s stickyAssignor) Assign(spec GroupSpec) (Assignment, error) {
	ix, err := newIndex(spec)
	if err != nil {
		return nil, err
	}
	P := ix.total()
	// Resolve claims: a valid claim (existing partition of a subscribed topic) by the member
	// with the highest generation wins; equal generations go to the earlier member.
	cur := newOwners(P)
	gen := make([]int32, P)
	var claimed []bool
	if s.cooperative {
		claimed = make([]bool, P)
	}
	for mi, m := range ix.members {
		for _, tp := range m.Owned {
			g := ix.global(tp)
			if g < 0 {
				continue
			}
			if claimed != nil {
				claimed[g] = true
			}
			if !ix.subscribed(mi, ix.topicIdx[tp.Topic]) {
				continue
			}
			if cur[g] < 0 || m.Generation > gen[g] {
				cur[g], gen[g] = int32(mi), m.Generation
			}
		}
	}
	var target []int32
	if active, ok := homogeneous(ix); ok {
		target = assignHomogeneous(ix, active, cur)
	} else {
		target = assignGeneral(ix, cur)
	}
	if s.cooperative {
		for g, o := range target {
			if o != cur[g] && claimed[g] {
				target[g] = -1
			}
		}
	}
	return ix.build(target), nil
}

// homogeneous reports whether all members with a non-empty (existing-topic) subscription
// subscribe to the same topics, and returns those members.
func homogeneous(ix *index) ([]int, bool) {
	var active []int
	var first []int
	for mi, ts := range ix.mtopics {
		if len(ts) == 0 {
			continue
		}
		if first == nil {
			first = ts
		} else if !slices.Equal(first, ts) {
			return nil, false
		}
		active = append(active, mi)
	}
	return active, true
}

// assignHomogeneous is the quota algorithm for identical subscriptions: with P partitions
// and M members every member gets P/M, and P%M of them one more. Members keep their owned
// partitions up to their quota (the first members, in member order, that own more than P/M
// keep one extra while extra slots remain); the rest is dealt round-robin, in
// (topic, partition) order, first to members below P/M and then one each to members at P/M.
func assignHomogeneous(ix *index, active []int, cur []int32) []int32 {
	P := ix.total()
	target := newOwners(P)
	if len(active) == 0 {
		return target
	}
	// owned[mi] = cur partitions of mi, ascending, as slices of one flat array.
	counts := make([]int, len(ix.members))
	for _, o := range cur {
		if o >= 0 {
			counts[o]++
		}
	}
	owned := make([][]int, len(ix.members))
	flat := make([]int, 0, P)
	for mi, c := range counts {
		owned[mi] = flat[len(flat) : len(flat) : len(flat)+c]
		flat = flat[:len(flat)+c]
	}
	for g, o := range cur {
		if o >= 0 {
			owned[o] = append(owned[o], g)
		}
	}
	M := len(active)
	minQ, extra := P/M, P%M
	load := counts // reused: overwritten below for active members
	for _, mi := range active {
		keep := min(len(owned[mi]), minQ)
		if len(owned[mi]) > minQ && extra > 0 {
			keep = minQ + 1
			extra--
		}
		for _, g := range owned[mi][:keep] {
			target[g] = int32(mi)
		}
		load[mi] = keep
	}
	free := make([]int, 0, P)
	for g, o := range target {
		if o < 0 {
			free = append(free, g)
		}
	}
	needy := make([]int, 0, M)
	for _, mi := range active {
		if load[mi] < minQ {
			needy = append(needy, mi)
		}
	}
	for len(needy) > 0 && len(free) > 0 {
		next := needy[:0]
		for _, mi := range needy {
			if len(free) == 0 {
				break
			}
			target[free[0]] = int32(mi)
			free = free[1:]
			if load[mi]++; load[mi] < minQ {
				next = append(next, mi)
			}
		}
		needy = next
	}
	for _, mi := range active {
		if len(free) == 0 {
			break
		}
		if load[mi] == minQ {
			target[free[0]] = int32(mi)
			free = free[1:]
			load[mi]++
		}
	}
	return target
}
