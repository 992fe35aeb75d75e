package group

// Group metadata records (Kafka's GroupMetadata records of __consumer_offsets).
//
// Format: key = kmsg GroupMetadataKey version 2 (the group name); value = kmsg
// GroupMetadataValue version 3 (protocol type, generation, protocol, leader, current
// state timestamp, and per member: member id, instance id, client id and host, rebalance
// and session timeouts, the subscription metadata of the selected protocol and the
// assignment). A nil value (tombstone) deletes the group's metadata. Values of versions
// 0-4 are read.
//
// When: as Kafka, a record is produced when a rebalance completes (the leader's SyncGroup
// makes the group Stable), when a static member replaces itself in a Stable group without
// a rebalance, and when the group becomes Empty; a tombstone when a group that had a
// record is deleted or forgotten. Nothing is written during a rebalance: a restart in the
// middle of one restores the last Stable generation.
//
// The coordinator does no I/O: records are queued (coalesced per group, the latest
// wins) and the caller drains them with TakeMetadata when MetadataReady signals, appending
// them to the group's __consumer_offsets partition. Load replays them: a group with
// members is restored Stable with its generation, leader, protocol, members and
// assignments, each member getting a fresh session deadline (as Kafka does at load).

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// MetadataRecord is a group metadata record to append to the group's __consumer_offsets
// partition (see PartitionFor). Value nil is a tombstone.
type MetadataRecord struct {
	Group      string
	Key, Value []byte
}

type pendRecord struct {
	MetadataRecord
	seq uint64
}

// MetadataReady receives a value when records are waiting for TakeMetadata.
func (c *Coordinator) MetadataReady() <-chan struct{} { return c.pendCh }

// TakeMetadata returns (and forgets) the waiting group metadata records, at most one per
// key (its latest value), in the order keys first changed.
func (c *Coordinator) TakeMetadata() []MetadataRecord {
	recs, _ := c.TakeMetadataSeq()
	return recs
}

// TakeMetadataSeq is TakeMetadata that also returns the sequence number of the last
// record taken: once they are written, the caller reports it to Persisted.
func (c *Coordinator) TakeMetadataSeq() ([]MetadataRecord, uint64) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if len(c.pendOrder) == 0 {
		return nil, c.seq
	}
	out := make([]MetadataRecord, 0, len(c.pendOrder))
	for _, k := range c.pendOrder {
		out = append(out, c.pend[k].MetadataRecord)
	}
	c.pend = map[string]pendRecord{}
	c.pendOrder = nil
	return out, c.seq
}

// Persisted reports that every record up to seq (see TakeMetadataSeq) has been written;
// it wakes WaitPersisted callers.
func (c *Coordinator) Persisted(seq uint64) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if seq <= c.durable {
		return
	}
	c.durable = seq
	close(c.durableCh)
	c.durableCh = make(chan struct{})
}

// WaitPersisted waits until the records up to seq have been written (Persisted), or ctx
// ends.
func (c *Coordinator) WaitPersisted(ctx context.Context, seq uint64) error {
	for {
		c.pmu.Lock()
		done, ch := c.durable >= seq, c.durableCh
		c.pmu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enqueue queues a record of group g under key (value nil: tombstone). Called with g.mu
// held.
func (c *Coordinator) enqueue(g *Group, key, value []byte) {
	c.pmu.Lock()
	k := string(key)
	if _, ok := c.pend[k]; !ok {
		c.pendOrder = append(c.pendOrder, k)
	}
	c.seq++
	c.pend[k] = pendRecord{MetadataRecord{Group: g.name, Key: key, Value: value}, c.seq}
	g.lastSeq = c.seq
	c.pmu.Unlock()
	select {
	case c.pendCh <- struct{}{}:
	default:
	}
}

// persist queues the group's current metadata. Called with g.mu held.
func (c *Coordinator) persist(g *Group, now time.Time) {
	g.persisted = true
	c.enqueue(g, GroupMetadataKey(g.name), g.metadataValue(now))
}

// persistTombstone queues the deletion of a group's metadata if it had any. Called with
// g.mu held.
func (c *Coordinator) persistTombstone(g *Group) {
	if g.persisted {
		g.persisted = false
		c.enqueue(g, GroupMetadataKey(g.name), nil)
	}
}

// metadataValue encodes the group as a GroupMetadataValue (version 3).
func (g *Group) metadataValue(now time.Time) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = now.UnixMilli()
	v.Members = make([]kmsg.GroupMetadataValueMember, 0, len(g.order))
	for _, id := range g.order {
		m := g.members[id]
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.ClientID, vm.ClientHost = m.id, m.clientID, m.clientHost
		if m.instanceID != "" {
			inst := m.instanceID
			vm.InstanceID = &inst
		}
		vm.RebalanceTimeoutMillis = int32(m.rebalance / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.session / time.Millisecond)
		vm.Subscription = orEmpty(m.metadataFor(g.protocol))
		vm.Assignment = orEmpty(m.assignment)
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// GroupMetadataKey encodes the __consumer_offsets key of a group's metadata (key version 2).
func GroupMetadataKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version = 2
	k.Group = group
	return k.AppendTo(nil)
}

// decodeGroupKey decodes a version 2 key.
func decodeGroupKey(key []byte) (string, error) {
	k := kmsg.NewGroupMetadataKey()
	if err := k.ReadFrom(key); err != nil {
		return "", fmt.Errorf("group: group metadata key: %w", err)
	}
	return k.Group, nil
}

// loadMetadata applies a group metadata record read back at start (value nil: tombstone).
func (c *Coordinator) loadMetadata(name string, value []byte) error {
	if value == nil {
		g := c.lock(name, false)
		if g == nil {
			return nil
		}
		g.resetMembers()
		g.generation, g.protocolType, g.protocol, g.leader = 0, "", "", ""
		g.setState(Empty, c.now())
		g.persisted = false
		g.mu.Unlock()
		c.drop(g, false)
		return nil
	}
	if len(value) >= 2 {
		if ver := int16(binary.BigEndian.Uint16(value)); ver < 0 || ver > 4 {
			return fmt.Errorf("group: unknown group metadata value version %d", ver)
		}
	}
	v := kmsg.NewGroupMetadataValue()
	if err := v.ReadFrom(value); err != nil {
		return fmt.Errorf("group: group metadata value: %w", err)
	}
	now := c.now()
	g := c.lock(name, true)
	defer g.mu.Unlock()
	g.resetMembers()
	g.persisted = true
	g.generation, g.protocolType = v.Generation, v.ProtocolType
	g.protocol, g.leader = derefStr(v.Protocol), derefStr(v.Leader)
	g.assignedBy = ""
	for _, vm := range v.Members {
		m := &member{id: vm.MemberID, instanceID: derefStr(vm.InstanceID), clientID: vm.ClientID,
			clientHost: vm.ClientHost, protocolType: v.ProtocolType,
			protocols:  []Protocol{{Name: g.protocol, Metadata: vm.Subscription}},
			session:    time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalance:  time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			assignment: vm.Assignment}
		if v.Version < 1 {
			m.rebalance = m.session
		}
		m.deadline = now.Add(m.session)
		g.members[m.id] = m
		g.order = append(g.order, m.id)
		if m.instanceID != "" {
			g.static[m.instanceID] = m.id
		}
	}
	if len(g.members) == 0 {
		g.protocol, g.leader = "", ""
		g.setState(Empty, now)
		if v.CurrentStateTimestamp > 0 {
			g.emptySince = time.UnixMilli(v.CurrentStateTimestamp)
		}
		return nil
	}
	if g.members[g.leader] == nil {
		g.leader = g.order[0]
	}
	g.rememberPlan("")
	g.setState(Stable, now)
	return nil
}

// resetMembers forgets every member and pending id (load time: nobody waits).
func (g *Group) resetMembers() {
	g.members = map[string]*member{}
	g.order = nil
	g.static = map[string]string{}
	g.pending = map[string]time.Time{}
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
