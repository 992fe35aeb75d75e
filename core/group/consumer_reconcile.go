package group

// Target assignment and incremental reconciliation of KIP-848 consumer groups.
//
// computeTarget runs the group's server assignor over every member (its subscription, and
// its previous target as the owned partitions, so sticky strategies keep what they can)
// and stores each member's target. reconcile then moves one member towards its target,
// Kafka's CurrentAssignmentBuilder:
//
//   - a member that keeps all its partitions and can get the new ones moves to the target
//     epoch at once;
//   - a member that must lose partitions stays at its epoch in UNREVOKED_PARTITIONS with
//     only the partitions it keeps in its assignment, until a heartbeat reports that it no
//     longer owns the revoked ones (or its rebalance timeout fences it);
//   - a partition is added to a member's assignment only when no other member holds it
//     (assigned or being revoked); a member waiting for such partitions is at the target
//     epoch in UNRELEASED_PARTITIONS and gets them at a later heartbeat.
//
// owners (partition → member) is the one map that enforces "at most one owner".

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/streamd/streamd/assignor"
)

// targetStrategy names the server assignor of the group: its group.assignor (or the
// broker default) if set, else the ServerAssignor most members ask for (ties: the earlier
// in ConsumerAssignors), else the first of ConsumerAssignors.
func (c *Coordinator) targetStrategy(g *Group, cg *consumerGroup) string {
	if name := c.effectiveAssignor(g); name != "" {
		return name
	}
	votes := map[string]int{}
	for _, m := range cg.members {
		if m.serverAssignor != "" {
			votes[m.serverAssignor]++
		}
	}
	best := c.cfg.ConsumerAssignors[0]
	for _, name := range c.cfg.ConsumerAssignors {
		if votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// computeTarget computes a new target assignment at the group epoch.
func (c *Coordinator) computeTarget(g *Group, cg *consumerGroup) {
	name := c.targetStrategy(g, cg)
	spec := assignor.GroupSpec{Group: g.name, Partitions: map[string]int32{}}
	ids := sortedMemberIDs(cg)
	for _, id := range ids {
		m := cg.members[id]
		am := assignor.Member{ID: id, InstanceID: m.instanceID, Rack: m.rackID, Generation: cg.targetEpoch}
		for _, t := range cg.subscription(m) {
			if _, ok := spec.Partitions[t]; !ok {
				spec.Partitions[t] = c.partitionCount(t)
			}
			if spec.Partitions[t] > 0 {
				am.Topics = append(am.Topics, t)
			}
		}
		am.Owned = toTopicPartitions(m.target)
		spec.Members = append(spec.Members, am)
	}
	plan, err := c.runAssignor(name, spec)
	if err != nil {
		// Refused, as for classic groups (assign.go): every member keeps its target
		// (a new member gets none) until the next epoch bump computes a new one.
		g.assignError = fmt.Sprintf("%s: %v", name, err)
		cg.targetEpoch = cg.epoch
		c.persistTargetEpoch(g)
		c.cfg.Logger.Warn("consumer group assignment refused; members keep their previous target assignment",
			"group", g.name, "assignor", name, "epoch", cg.epoch, "err", err)
		return
	}
	g.assignError = ""
	for _, id := range ids {
		m := cg.members[id]
		t := fromTopicPartitions(plan[id])
		if !equalPartitions(t, m.target) {
			m.target = t
			c.persistTarget(g, m)
		}
	}
	cg.targetEpoch = cg.epoch
	cg.assignedBy = name
	c.persistTargetEpoch(g)
	c.cfg.Logger.Info("consumer group target assignment computed", "group", g.name, "epoch", cg.epoch,
		"assignor", name, "members", len(ids))
}

// runAssignor runs one strategy and validates its plan. cooperative-sticky runs as
// sticky: reconciliation already moves partitions in two steps, and a held back
// partition would stay unassigned until the next epoch.
func (c *Coordinator) runAssignor(name string, spec assignor.GroupSpec) (assignor.Assignment, error) {
	run := name
	if run == cooperativeProtocol {
		run = "sticky"
	}
	strat, err := c.strategy(run)
	if err != nil {
		return nil, err
	}
	plan, err := strat.Assign(spec)
	if err == nil {
		err = assignor.Validate(spec, plan)
	}
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// reconcile moves m towards its target (see the file comment); owned is what the member
// reported owning (nil: not reported).
func (c *Coordinator) reconcile(g *Group, cg *consumerGroup, m *cmember, owned Partitions, now time.Time) {
	if m.state == MemberStable && m.epoch == cg.targetEpoch {
		return
	}
	if m.state == MemberUnrevoked && ownsAny(owned, m.revoking) {
		return
	}
	next := cg.nextAssignment(m, owned)
	if next.state == m.state && next.epoch == m.epoch && next.prevEpoch == m.prevEpoch &&
		equalPartitions(next.assigned, m.assigned) && equalPartitions(next.revoking, m.revoking) {
		return
	}
	cg.release(m)
	m.state, m.epoch, m.prevEpoch, m.assigned, m.revoking = next.state, next.epoch, next.prevEpoch, next.assigned, next.revoking
	since := map[TopicPartition]int32{}
	for _, ps := range []Partitions{m.assigned, m.revoking} {
		for t, parts := range ps {
			for _, p := range parts {
				tp := TopicPartition{t, p}
				if e, ok := m.since[tp]; ok {
					since[tp] = e
				} else {
					since[tp] = m.epoch
				}
			}
		}
	}
	m.since = since
	cg.claim(m)
	if m.state == MemberUnrevoked {
		m.revokeBy = now.Add(m.rebalance)
	} else {
		m.revokeBy = time.Time{}
	}
	c.persistCurrent(g, m)
}

// assignmentState is the reconciled part of a member.
type assignmentState struct {
	state              MemberState
	epoch, prevEpoch   int32
	assigned, revoking Partitions
}

// nextAssignment is Kafka's computeNextAssignment for m at its current epoch.
func (cg *consumerGroup) nextAssignment(m *cmember, owned Partitions) assignmentState {
	subscribed := map[string]bool{}
	for _, t := range cg.subscription(m) {
		subscribed[t] = true
	}
	topics := map[string]bool{}
	for t := range m.assigned {
		topics[t] = true
	}
	for t := range m.target {
		topics[t] = true
	}
	keep, revoke, add := Partitions{}, Partitions{}, Partitions{}
	unreleased := false
	for t := range topics {
		var target []int32
		if subscribed[t] {
			target = m.target[t]
		}
		cur := m.assigned[t]
		for _, p := range cur {
			if slices.Contains(target, p) {
				keep[t] = append(keep[t], p)
			} else {
				revoke[t] = append(revoke[t], p)
			}
		}
		for _, p := range target {
			if slices.Contains(cur, p) {
				continue
			}
			if o, held := cg.owners[TopicPartition{t, p}]; held && o != m.id {
				unreleased = true
				continue
			}
			add[t] = append(add[t], p)
		}
	}
	if len(revoke) > 0 && ownsAny(owned, revoke) {
		return assignmentState{state: MemberUnrevoked, epoch: m.epoch, prevEpoch: m.epoch, assigned: normalize(keep), revoking: normalize(revoke)}
	}
	next := assignmentState{state: MemberStable, epoch: cg.targetEpoch, prevEpoch: m.epoch, assigned: keep}
	if unreleased {
		next.state = MemberUnreleased
	}
	for t, ps := range add {
		next.assigned[t] = append(next.assigned[t], ps...)
	}
	next.assigned = normalize(next.assigned)
	return next
}

// claim records m as the holder of its assigned and revoking partitions.
func (cg *consumerGroup) claim(m *cmember) {
	for _, ps := range []Partitions{m.assigned, m.revoking} {
		for t, parts := range ps {
			for _, p := range parts {
				cg.owners[TopicPartition{t, p}] = m.id
			}
		}
	}
}

// release forgets m as a holder of its partitions.
func (cg *consumerGroup) release(m *cmember) {
	for _, ps := range []Partitions{m.assigned, m.revoking} {
		for t, parts := range ps {
			for _, p := range parts {
				tp := TopicPartition{t, p}
				if cg.owners[tp] == m.id {
					delete(cg.owners, tp)
				}
			}
		}
	}
}

// ownsAny reports whether the member may still own a partition of ps: always when it did
// not report what it owns.
func ownsAny(owned, ps Partitions) bool {
	if owned == nil {
		return true
	}
	for t, parts := range owned {
		for _, p := range parts {
			if slices.Contains(ps[t], p) {
				return true
			}
		}
	}
	return false
}

// subset reports whether owned (reported) is within assigned; unreported is not.
func subset(owned, assigned Partitions) bool {
	if owned == nil {
		return false
	}
	for t, parts := range owned {
		for _, p := range parts {
			if !slices.Contains(assigned[t], p) {
				return false
			}
		}
	}
	return true
}

// normalize sorts and deduplicates every topic's partitions and drops empty topics; an
// empty result is nil.
func normalize(ps Partitions) Partitions {
	var out Partitions
	for t, parts := range ps {
		if len(parts) == 0 {
			continue
		}
		parts = slices.Clone(parts)
		slices.Sort(parts)
		if out == nil {
			out = Partitions{}
		}
		out[t] = slices.Compact(parts)
	}
	return out
}

func equalPartitions(a, b Partitions) bool {
	return maps.EqualFunc(normalize(a), normalize(b), slices.Equal[[]int32])
}

func clonePartitions(ps Partitions) Partitions {
	out := Partitions{}
	for t, parts := range ps {
		out[t] = slices.Clone(parts)
	}
	return out
}

// count is the number of partitions in ps.
func (ps Partitions) count() int {
	n := 0
	for _, parts := range ps {
		n += len(parts)
	}
	return n
}

func toTopicPartitions(ps Partitions) []assignor.TopicPartition {
	var out []assignor.TopicPartition
	for t, parts := range ps {
		for _, p := range parts {
			out = append(out, assignor.TopicPartition{Topic: t, Partition: p})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Topic < out[j].Topic || out[i].Topic == out[j].Topic && out[i].Partition < out[j].Partition
	})
	return out
}

func fromTopicPartitions(tps []assignor.TopicPartition) Partitions {
	out := Partitions{}
	for _, tp := range tps {
		out[tp.Topic] = append(out[tp.Topic], tp.Partition)
	}
	return normalize(out)
}
