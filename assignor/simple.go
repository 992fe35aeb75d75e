package assignor

type rangeAssignor struct{}

// Range returns Kafka's RangeAssignor: for each topic independently, the members subscribed
// to it (in Kafka's member order: static members by instance id, then dynamic members by
// member id) receive contiguous ranges of partitions; with n partitions and m members the
// first n%m members get one partition more. Previous ownership and racks are ignored.
func Range() Assignor { return rangeAssignor{} }

func (rangeAssignor) Name() string { return "range" }

func (rangeAssignor) Assign(spec GroupSpec) (Assignment, error) {
	ix, err := newIndex(spec)
	if err != nil {
		return nil, err
	}
	owner := newOwners(ix.total())
	for ti, subs := range ix.subs {
		n, m := ix.base[ti+1]-ix.base[ti], len(subs)
		g := ix.base[ti]
		for k, mi := range subs {
			c := n / m
			if k < n%m {
				c++
			}
			for range c {
				owner[g] = int32(mi)
				g++
			}
		}
	}
	return ix.build(owner), nil
}

type roundRobinAssignor struct{}

// RoundRobin returns Kafka's RoundRobinAssignor: all partitions of all subscribed topics,
// sorted by (topic, partition), are dealt in turn to the members in Kafka's member order;
// a member not subscribed to a partition's topic is skipped (and the turn moves past the
// member that takes the partition). Previous ownership and racks are ignored.
func RoundRobin() Assignor { return roundRobinAssignor{} }

func (roundRobinAssignor) Name() string { return "roundrobin" }

func (roundRobinAssignor) Assign(spec GroupSpec) (Assignment, error) {
	ix, err := newIndex(spec)
	if err != nil {
		return nil, err
	}
	owner := newOwners(ix.total())
	next := 0
	for ti := range ix.topics {
		for g := ix.base[ti]; g < ix.base[ti+1]; g++ {
			// Every topic in ix.topics has a subscriber, so this terminates.
			for !ix.subscribed(next, ti) {
				next = (next + 1) % len(ix.members)
			}
			owner[g] = int32(next)
			next = (next + 1) % len(ix.members)
		}
	}
	return ix.build(owner), nil
}
