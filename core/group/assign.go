package group

// Broker-owned assignment (group config group.assignor, or the broker default
// Config.DefaultAssignor for groups without their own). When a group has an assignor
// set and its protocol type is "consumer", the coordinator ignores the leader's plan at
// SyncGroup: it decodes every member's kmsg.ConsumerMemberMetadata (topics, owned
// partitions, generation, rack), runs the strategy from package assignor on the current
// partition counts (Config.Partitions), checks the result with assignor.Validate and
// hands each member a kmsg.ConsumerMemberAssignment. If anything fails (an unknown or
// failing strategy such as a broken Wasm plugin, undecodable metadata, an invalid plan),
// the plan is refused: every member that is still in the group keeps the assignment it
// had before the rebalance (new members get nothing), the error is logged and kept in
// Description.AssignError until an assignment succeeds, and nothing else changes.
//
// Cooperative clients (the group's selected protocol is "cooperative-sticky") keep their
// partitions while rejoining, so a partition moving between members is held back for one
// round: it is removed from its new owner's assignment while another member still owns
// it; the old owner sees the revocation and rejoins, and the next rebalance gives it out
// (Kafka's KIP-429 two-phase protocol, driven by the clients). Eager clients give up every
// partition before rejoining, so for them "cooperative-sticky" runs as "sticky" (no hold
// back is needed, and nobody would trigger the second round).
//
// Which strategy produced the current assignment is Description.AssignedBy ("" = the
// leader member) and is logged at Info; the wire protocol name stays the clients' one.

import (
	"errors"
	"fmt"
	"maps"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/assignor"
)

// ConsumerProtocolType is the protocol type of Kafka consumer groups.
const ConsumerProtocolType = "consumer"

// cooperativeProtocol is the client protocol name of the cooperative (KIP-429) clients.
const cooperativeProtocol = "cooperative-sticky"

// ErrUnknownAssignor is returned by SetAssignor for a name assignor.ByName does not know.
var ErrUnknownAssignor = errors.New("group: unknown assignor")

// ValidAssignor reports whether name is a built-in strategy ("" = leader assigns).
func ValidAssignor(name string) bool {
	if name == "" {
		return true
	}
	_, ok := assignor.ByName(name)
	return ok
}

// builtinStrategy resolves the built-in strategies of package assignor.
func builtinStrategy(name string) (assignor.Assignor, error) {
	if a, ok := assignor.ByName(name); ok {
		return a, nil
	}
	return nil, fmt.Errorf("%w %q (want range, roundrobin, sticky, cooperative-sticky or uniform)", ErrUnknownAssignor, name)
}

// strategy resolves a group.assignor name through Config.Lookup (default: the built-ins).
func (c *Coordinator) strategy(name string) (assignor.Assignor, error) {
	if c.cfg.Lookup != nil {
		return c.cfg.Lookup(name)
	}
	return builtinStrategy(name)
}

// CheckAssignor returns nil if name can be used as a group.assignor ("" = unset), or an
// error saying why not.
func (c *Coordinator) CheckAssignor(name string) error {
	if name == "" {
		return nil
	}
	_, err := c.strategy(name)
	return err
}

// SetAssignor sets (name != "") or clears (name == "") a group's group.assignor. The
// whole set of configured assignors is first given to Config.SaveAssignors (if set); an
// error there leaves everything unchanged. A change triggers a rebalance of a classic group
// with members, and a new group epoch (so a new target assignment) of a consumer group.
// The group need not exist yet.
func (c *Coordinator) SetAssignor(group, name string) error {
	if err := c.CheckAssignor(name); err != nil {
		return err
	}
	c.cfgMu.Lock()
	defer c.cfgMu.Unlock()
	c.mu.Lock()
	next := maps.Clone(c.assignors)
	c.mu.Unlock()
	if next[group] == name {
		return nil
	}
	if name == "" {
		delete(next, group)
	} else {
		next[group] = name
	}
	if c.cfg.SaveAssignors != nil {
		if err := c.cfg.SaveAssignors(maps.Clone(next)); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.assignors = next
	c.mu.Unlock()
	g := c.lock(group, false)
	if g == nil {
		return nil
	}
	defer g.mu.Unlock()
	g.assignor = name
	if g.cg != nil {
		// A consumer group: a new epoch, whose target assignment the next heartbeat computes
		// with the new strategy (then reconciled incrementally).
		if len(g.cg.members) > 0 {
			c.bumpEpoch(g, g.cg, "group.assignor changed to "+orDefault(name))
		}
		return nil
	}
	if len(g.members) > 0 && (g.state == Stable || g.state == CompletingRebalance) {
		c.prepareRebalance(g, c.now())
	}
	return nil
}

func orDefault(name string) string {
	if name == "" {
		return "the default"
	}
	return name
}

// effectiveAssignor is the group's group.assignor, else the broker default
// (Config.DefaultAssignor); "" when neither is set.
func (c *Coordinator) effectiveAssignor(g *Group) string {
	if g.assignor != "" {
		return g.assignor
	}
	return c.cfg.DefaultAssignor
}

// DefaultAssignor returns the broker-wide default group.assignor ("" = unset).
func (c *Coordinator) DefaultAssignor() string { return c.cfg.DefaultAssignor }

// Assignor returns a group's group.assignor ("" = unset).
func (c *Coordinator) Assignor(group string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.assignors[group]
}

// Assignors returns every configured group.assignor (group → strategy).
func (c *Coordinator) Assignors() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.assignors)
}

// LoadAssignors installs persisted group.assignor settings (at start, before serving);
// unknown strategy names are skipped and returned.
func (c *Coordinator) LoadAssignors(m map[string]string) (skipped []string) {
	c.cfgMu.Lock()
	defer c.cfgMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for grp, name := range m {
		if name == "" || c.CheckAssignor(name) != nil {
			skipped = append(skipped, grp)
			continue
		}
		c.assignors[grp] = name
		if g := c.groups[grp]; g != nil {
			g.mu.Lock()
			g.assignor = name
			g.mu.Unlock()
		}
	}
	sort.Strings(skipped)
	return skipped
}

// brokerAssign computes the assignment of every member with the group's strategy.
func (c *Coordinator) brokerAssign(g *Group) (map[string][]byte, error) {
	if g.protocolType != ConsumerProtocolType {
		return nil, fmt.Errorf("group: protocol type %q is not %q", g.protocolType, ConsumerProtocolType)
	}
	cooperative := g.protocol == cooperativeProtocol
	name := c.effectiveAssignor(g)
	if name == "cooperative-sticky" && !cooperative {
		name = "sticky"
	}
	strat, err := c.strategy(name)
	if err != nil {
		return nil, err
	}
	spec := assignor.GroupSpec{Group: g.name, Partitions: map[string]int32{}}
	versions := map[string]int16{}
	for _, id := range g.order {
		m := g.members[id]
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil, fmt.Errorf("group: member %s: decoding consumer metadata: %w", id, err)
		}
		versions[id] = min(md.Version, 3)
		am := assignor.Member{ID: id, InstanceID: m.instanceID, Topics: md.Topics, Generation: md.Generation}
		if md.Rack != nil {
			am.Rack = *md.Rack
		}
		for _, o := range md.OwnedPartitions {
			for _, p := range o.Partitions {
				am.Owned = append(am.Owned, assignor.TopicPartition{Topic: o.Topic, Partition: p})
			}
		}
		for _, t := range md.Topics {
			if _, seen := spec.Partitions[t]; !seen && c.cfg.Partitions != nil {
				spec.Partitions[t] = c.cfg.Partitions(t)
			}
		}
		spec.Members = append(spec.Members, am)
	}
	plan, err := strat.Assign(spec)
	if err != nil {
		return nil, err
	}
	// The plan must assign every subscribed partition exactly once; only the built-in
	// cooperative-sticky withholds partitions itself (its first phase). The hold-back
	// below only removes partitions.
	if err := assignor.Validate(spec, plan); err != nil && !(name == cooperativeProtocol && errors.Is(err, assignor.ErrUnassigned)) {
		return nil, fmt.Errorf("group: %s produced an invalid assignment: %w", name, err)
	}
	if cooperative {
		holdBack(spec, plan)
	}
	out := make(map[string][]byte, len(g.members))
	for _, id := range g.order {
		out[id] = encodeAssignment(versions[id], plan[id])
	}
	return out, nil
}

// holdBack removes from the plan every partition given to a member while another member
// still owns it (on conflicting claims the highest generation owns it).
func holdBack(spec assignor.GroupSpec, plan assignor.Assignment) {
	type claim struct {
		member string
		gen    int32
	}
	owner := map[assignor.TopicPartition]claim{}
	for _, m := range spec.Members {
		for _, tp := range m.Owned {
			if cur, ok := owner[tp]; !ok || m.Generation > cur.gen {
				owner[tp] = claim{m.ID, m.Generation}
			}
		}
	}
	for id, tps := range plan {
		kept := tps[:0:0]
		for _, tp := range tps {
			if o, ok := owner[tp]; ok && o.member != id {
				continue
			}
			kept = append(kept, tp)
		}
		plan[id] = kept
	}
}

// encodeAssignment encodes partitions (sorted by topic, partition) for one member.
func encodeAssignment(version int16, tps []assignor.TopicPartition) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = max(version, 0)
	for _, tp := range tps {
		if n := len(a.Topics); n == 0 || a.Topics[n-1].Topic != tp.Topic {
			t := kmsg.NewConsumerMemberAssignmentTopic()
			t.Topic = tp.Topic
			a.Topics = append(a.Topics, t)
		}
		last := &a.Topics[len(a.Topics)-1]
		last.Partitions = append(last.Partitions, tp.Partition)
	}
	return a.AppendTo(nil)
}

// assignAtSync sets every member's assignment when the leader syncs: the broker's
// strategy if one is set, else the leader's plan. A failed broker strategy leaves every
// member with its previous assignment (see the package comment above).
func (c *Coordinator) assignAtSync(g *Group, leaderPlan map[string][]byte) {
	plan, by := leaderPlan, ""
	g.assignError = ""
	if name := c.effectiveAssignor(g); name != "" {
		bp, err := c.brokerAssign(g)
		if err != nil {
			g.assignError = fmt.Sprintf("%s: %v", name, err)
			plan, by = g.previousPlan(), g.lastBy
			c.cfg.Logger.Warn("broker-side assignment refused; members keep their previous assignment",
				"group", g.name, "assignor", name, "generation", g.generation, "err", err)
		} else {
			plan, by = bp, name
			c.cfg.Logger.Info("group assignment computed by the broker",
				"group", g.name, "assignor", name, "protocol", g.protocol, "generation", g.generation, "members", len(g.members))
		}
	}
	for id, o := range g.members {
		o.assignment = plan[id]
	}
	g.rememberPlan(by)
}

// rememberPlan keeps the members' current assignments as the plan a refused broker
// assignment falls back to.
func (g *Group) rememberPlan(by string) {
	g.assignedBy, g.lastBy = by, by
	g.lastPlan = make(map[string][]byte, len(g.members))
	for id, m := range g.members {
		if m.assignment != nil {
			g.lastPlan[id] = m.assignment
			if m.instanceID != "" {
				g.lastPlan["instance:"+m.instanceID] = m.assignment
			}
		}
	}
}

// previousPlan maps each current member to the assignment it had in the last plan (a
// static member that rejoined under a new member id is found by its instance id); a
// member without one gets an empty consumer assignment (clients reject empty bytes).
func (g *Group) previousPlan() map[string][]byte {
	out := make(map[string][]byte, len(g.members))
	for id, m := range g.members {
		if a, ok := g.lastPlan[id]; ok {
			out[id] = a
		} else if a, ok := g.lastPlan["instance:"+m.instanceID]; ok && m.instanceID != "" {
			out[id] = a
		} else if g.protocolType == ConsumerProtocolType {
			out[id] = encodeAssignment(0, nil)
		}
	}
	return out
}

// Rebalance starts a rebalance of a group with members (a no-op otherwise), e.g. after a
// new version of its Wasm assignor was uploaded. It reports whether one started.
func (c *Coordinator) Rebalance(group string) bool {
	g := c.lock(group, false)
	if g == nil {
		return false
	}
	defer g.mu.Unlock()
	if len(g.members) == 0 || (g.state != Stable && g.state != CompletingRebalance) {
		return false
	}
	c.prepareRebalance(g, c.now())
	return true
}
