package group

// KIP-848 consumer group records of __consumer_offsets, in Kafka's schemas (kmsg has no
// codec for them; the primitives are kbin's). A key is an int16 record type followed by
// strings (int16 length); a value is an int16 version (0) followed by flexible fields
// (compact strings and arrays, tagged fields at the end of each struct; unknown tags are
// skipped when reading):
//
//	type 3 ConsumerGroupMetadata         key: group           value: Epoch int32
//	type 4 ConsumerGroupPartitionMetadata key: group           (read and ignored: the
//	                                                            partition counts are re-read)
//	type 5 ConsumerGroupMemberMetadata   key: group, member   value: InstanceId?, RackId?,
//	       ClientId, ClientHost, SubscribedTopicNames []string, SubscribedTopicRegex?,
//	       RebalanceTimeoutMs int32, ServerAssignor?
//	type 6 ConsumerGroupTargetAssignmentMetadata key: group    value: AssignmentEpoch int32
//	type 7 ConsumerGroupTargetAssignmentMember   key: group, member
//	       value: TopicPartitions [TopicId uuid, Partitions []int32]
//	type 8 ConsumerGroupCurrentMemberAssignment  key: group, member
//	       value: MemberEpoch int32, PreviousMemberEpoch int32, State int8,
//	       AssignedPartitions [TopicId, Partitions, tag 0: AssignmentEpochs []int32],
//	       PartitionsPendingRevocation [same]
//
// Assignments are stored by topic id (Config.TopicID); a topic unknown at load time (it
// was deleted) is dropped from them. A tombstone (nil value) deletes one record; the
// group metadata tombstone deletes the whole consumer group. Records are queued like the
// classic group metadata (persist.go) whenever the state they hold changes; Load applies
// them as they are read back and LoadDone completes the groups (members without a
// metadata record are dropped, every member gets a fresh session deadline).

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
)

// Consumer group record types (the version prefix of their keys).
const (
	recGroupMeta     int16 = 3
	recPartitionMeta int16 = 4
	recMemberMeta    int16 = 5
	recTargetMeta    int16 = 6
	recTargetMember  int16 = 7
	recCurrent       int16 = 8
)

// consumerKey encodes a consumer group record key (member is used by types 5, 7 and 8).
func consumerKey(kind int16, group, member string) []byte {
	k := kbin.AppendInt16(nil, kind)
	k = kbin.AppendString(k, group)
	if kind == recMemberMeta || kind == recTargetMember || kind == recCurrent {
		k = kbin.AppendString(k, member)
	}
	return k
}

func decodeConsumerKey(key []byte) (kind int16, group, member string, err error) {
	b := kbin.Reader{Src: key}
	kind = b.Int16()
	group = b.String()
	if kind == recMemberMeta || kind == recTargetMember || kind == recCurrent {
		member = b.String()
	}
	if err := b.Complete(); err != nil {
		return 0, "", "", fmt.Errorf("group: consumer group record key type %d: %w", kind, err)
	}
	return kind, group, member, nil
}

func int32Value(v int32) []byte {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, v)
	return kbin.AppendUvarint(b, 0)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (c *Coordinator) persistEpoch(g *Group) {
	c.enqueue(g, consumerKey(recGroupMeta, g.name, ""), int32Value(g.cg.epoch))
}

func (c *Coordinator) persistTargetEpoch(g *Group) {
	c.enqueue(g, consumerKey(recTargetMeta, g.name, ""), int32Value(g.cg.targetEpoch))
}

func (c *Coordinator) persistMember(g *Group, m *cmember) {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendCompactNullableString(b, nullable(m.instanceID))
	b = kbin.AppendCompactNullableString(b, nullable(m.rackID))
	b = kbin.AppendCompactString(b, m.clientID)
	b = kbin.AppendCompactString(b, m.clientHost)
	b = kbin.AppendCompactArrayLen(b, len(m.topics))
	for _, t := range m.topics {
		b = kbin.AppendCompactString(b, t)
	}
	b = kbin.AppendCompactNullableString(b, nullable(m.regex))
	b = kbin.AppendInt32(b, int32(m.rebalance/time.Millisecond))
	b = kbin.AppendCompactNullableString(b, nullable(m.serverAssignor))
	b = kbin.AppendUvarint(b, 0)
	c.enqueue(g, consumerKey(recMemberMeta, g.name, m.id), b)
}

func (c *Coordinator) persistTarget(g *Group, m *cmember) {
	b := kbin.AppendInt16(nil, 0)
	b = c.appendTopicPartitions(b, m.target, nil)
	b = kbin.AppendUvarint(b, 0)
	c.enqueue(g, consumerKey(recTargetMember, g.name, m.id), b)
}

func (c *Coordinator) persistCurrent(g *Group, m *cmember) {
	b := kbin.AppendInt16(nil, 0)
	b = kbin.AppendInt32(b, m.epoch)
	b = kbin.AppendInt32(b, m.prevEpoch)
	b = kbin.AppendInt8(b, int8(m.state))
	b = c.appendTopicPartitions(b, m.assigned, m.since)
	b = c.appendTopicPartitions(b, m.revoking, m.since)
	b = kbin.AppendUvarint(b, 0)
	c.enqueue(g, consumerKey(recCurrent, g.name, m.id), b)
}

func (c *Coordinator) persistMemberTombstones(g *Group, id string) {
	c.enqueue(g, consumerKey(recCurrent, g.name, id), nil)
	c.enqueue(g, consumerKey(recTargetMember, g.name, id), nil)
	c.enqueue(g, consumerKey(recMemberMeta, g.name, id), nil)
}

// appendTopicPartitions appends a compact array of (topic id, partitions) structs; with
// since, each struct has the partitions' assignment epochs as tagged field 0.
func (c *Coordinator) appendTopicPartitions(b []byte, ps Partitions, since map[TopicPartition]int32) []byte {
	type entry struct {
		id    [16]byte
		topic string
		parts []int32
	}
	var es []entry
	for _, t := range sortedTopics(ps) {
		if c.cfg.TopicID == nil {
			break
		}
		if id, ok := c.cfg.TopicID(t); ok {
			es = append(es, entry{id, t, ps[t]})
		}
	}
	b = kbin.AppendCompactArrayLen(b, len(es))
	for _, e := range es {
		b = kbin.AppendUuid(b, e.id)
		b = kbin.AppendCompactArrayLen(b, len(e.parts))
		for _, p := range e.parts {
			b = kbin.AppendInt32(b, p)
		}
		if since == nil {
			b = kbin.AppendUvarint(b, 0)
			continue
		}
		var epochs []byte
		epochs = kbin.AppendCompactArrayLen(epochs, len(e.parts))
		for _, p := range e.parts {
			epochs = kbin.AppendInt32(epochs, since[TopicPartition{e.topic, p}])
		}
		b = kbin.AppendUvarint(b, 1) // one tagged field
		b = kbin.AppendUvarint(b, 0) // tag 0: AssignmentEpochs
		b = kbin.AppendUvarint(b, uint32(len(epochs)))
		b = append(b, epochs...)
	}
	return b
}

func sortedTopics(ps Partitions) []string {
	ts := make([]string, 0, len(ps))
	for t := range ps {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// reader decodes the flexible value schemas.
type reader struct {
	kbin.Reader
	c *Coordinator
}

func (r *reader) skipTags() {
	n := r.Uvarint()
	for range n {
		r.Uvarint()
		r.Span(int(r.Uvarint()))
	}
}

// topicPartitions reads a compact array of (topic id, partitions) structs; assignment
// epochs found in tag 0 go to since (when non-nil).
func (r *reader) topicPartitions(since map[TopicPartition]int32) Partitions {
	n := r.CompactArrayLen()
	out := Partitions{}
	for range max(n, 0) {
		id := r.Uuid()
		np := r.CompactArrayLen()
		parts := make([]int32, 0, max(np, 0))
		for range max(np, 0) {
			parts = append(parts, r.Int32())
		}
		var epochs []int32
		for range r.Uvarint() {
			tag, size := r.Uvarint(), r.Uvarint()
			body := r.Span(int(size))
			if tag != 0 || len(body) == 0 {
				continue
			}
			tr := kbin.Reader{Src: body}
			ne := tr.CompactArrayLen()
			for range max(ne, 0) {
				epochs = append(epochs, tr.Int32())
			}
			if tr.Complete() != nil || len(epochs) != len(parts) {
				epochs = nil
			}
		}
		name, ok := "", false
		if r.c.cfg.TopicName != nil {
			name, ok = r.c.cfg.TopicName(id)
		}
		if !ok {
			continue // a deleted topic
		}
		out[name] = append(out[name], parts...)
		if since != nil && epochs != nil {
			for i, p := range parts {
				since[TopicPartition{name, p}] = epochs[i]
			}
		}
	}
	return normalize(out)
}

// loadConsumer applies one consumer group record read back at start.
func (c *Coordinator) loadConsumer(key, value []byte) error {
	kind, name, member, err := decodeConsumerKey(key)
	if err != nil || kind == recPartitionMeta {
		return err
	}
	if len(value) >= 2 && int16(binary.BigEndian.Uint16(value)) < 0 {
		return fmt.Errorf("group: consumer group record type %d: bad value version", kind)
	}
	g := c.lock(name, value != nil)
	if g == nil {
		return nil
	}
	defer g.mu.Unlock()
	if g.cg == nil {
		if value == nil {
			return nil
		}
		g.cg = newConsumerGroup()
	}
	cg := g.cg
	if value == nil {
		switch kind {
		case recGroupMeta:
			g.cg = nil
		case recTargetMeta:
			cg.targetEpoch = 0
		case recMemberMeta:
			if m := cg.members[member]; m != nil {
				m.hasMeta = false
			}
		case recTargetMember:
			if m := cg.members[member]; m != nil {
				m.target = nil
			}
		case recCurrent:
			if m := cg.members[member]; m != nil {
				m.epoch, m.prevEpoch, m.state, m.assigned, m.revoking, m.since = 0, 0, MemberStable, nil, nil, nil
			}
		}
		return nil
	}
	r := &reader{Reader: kbin.Reader{Src: value}, c: c}
	r.Int16()
	m := cg.members[member]
	if m == nil && member != "" {
		m = &cmember{id: member}
		cg.members[member] = m
	}
	switch kind {
	case recGroupMeta:
		cg.epoch, cg.hasEpoch = r.Int32(), true
	case recTargetMeta:
		cg.targetEpoch = r.Int32()
	case recMemberMeta:
		m.instanceID = derefStr(r.CompactNullableString())
		m.rackID = derefStr(r.CompactNullableString())
		m.clientID = r.CompactString()
		m.clientHost = r.CompactString()
		n := r.CompactArrayLen()
		m.topics = nil
		for range max(n, 0) {
			m.topics = append(m.topics, r.CompactString())
		}
		slices.Sort(m.topics)
		m.regex = derefStr(r.CompactNullableString())
		m.rebalance = time.Duration(r.Int32()) * time.Millisecond
		m.serverAssignor = derefStr(r.CompactNullableString())
		m.hasMeta = true
	case recTargetMember:
		m.target = r.topicPartitions(nil)
	case recCurrent:
		m.epoch, m.prevEpoch = r.Int32(), r.Int32()
		m.state = MemberState(r.Int8())
		m.since = map[TopicPartition]int32{}
		m.assigned = r.topicPartitions(m.since)
		m.revoking = r.topicPartitions(m.since)
	default:
		return fmt.Errorf("group: unknown consumer group record type %d", kind)
	}
	r.skipTags()
	if err := r.Complete(); err != nil {
		return fmt.Errorf("group: consumer group record type %d of %s: %w", kind, name, err)
	}
	return nil
}

// LoadDone completes the groups read back by Load: call it once after the last record.
// Consumer group members get a fresh session deadline (and rebalance deadline when they
// are revoking), as Kafka does when it loads a group.
func (c *Coordinator) LoadDone() {
	now := c.now()
	for _, g := range c.snapshot() {
		g.mu.Lock()
		cg := g.cg
		if cg != nil && !cg.hasEpoch {
			g.cg, cg = nil, nil // leftovers of a deleted group
		}
		if cg != nil {
			if len(g.members) > 0 {
				c.cfg.Logger.Warn("group has both classic and consumer group records; keeping the consumer group", "group", g.name)
				g.resetMembers()
			}
			g.state, g.protocolType, g.protocol, g.leader = Empty, "", "", ""
			c.finishConsumerLoad(g, cg, now)
		}
		unused := g.cg == nil && g.state == Empty && g.generation == 0 && len(g.offsets) == 0 && len(g.members) == 0
		g.mu.Unlock()
		if unused {
			c.drop(g, true) // only records of a deleted group were read
		}
	}
}

func (c *Coordinator) finishConsumerLoad(g *Group, cg *consumerGroup, now time.Time) {
	for _, id := range sortedMemberIDs(cg) {
		m := cg.members[id]
		if !m.hasMeta {
			delete(cg.members, id)
			continue
		}
		if m.instanceID != "" {
			cg.static[m.instanceID] = id
		}
		if m.state != MemberStable && m.state != MemberUnrevoked && m.state != MemberUnreleased {
			m.state = MemberUnreleased // a state this version does not know: reconcile again
		}
		// Two members claiming one partition cannot come from a consistent log; the first
		// (in member id order) keeps it.
		for _, ps := range []Partitions{m.assigned, m.revoking} {
			for t, parts := range ps {
				kept := parts[:0:0]
				for _, p := range parts {
					if _, taken := cg.owners[TopicPartition{t, p}]; !taken {
						kept = append(kept, p)
					}
				}
				ps[t] = kept
			}
		}
		m.assigned, m.revoking = normalize(m.assigned), normalize(m.revoking)
		since := map[TopicPartition]int32{}
		for _, ps := range []Partitions{m.assigned, m.revoking} {
			for t, parts := range ps {
				for _, p := range parts {
					tp := TopicPartition{t, p}
					if e, ok := m.since[tp]; ok && e <= m.epoch {
						since[tp] = e
					} else {
						since[tp] = m.epoch // unknown: only commits at the current epoch
					}
				}
			}
		}
		m.since = since
		cg.claim(m)
		m.deadline = now.Add(c.cfg.ConsumerSessionTimeout)
		if m.state == MemberUnrevoked {
			m.revokeBy = now.Add(m.rebalance)
		}
	}
	c.refreshSubscriptions(cg)
	if !c.targetCovers(cg) {
		// The topics changed after the last target assignment was computed (the broker
		// stopped before a heartbeat saw the change): the next heartbeat bumps the epoch.
		cg.sig, cg.checked = "", math.MaxUint64
	}
	if cg.targetEpoch > 0 {
		cg.assignedBy = c.targetStrategy(g, cg)
	}
	if len(cg.members) == 0 && g.emptySince.IsZero() {
		g.emptySince = now
	}
}

// targetCovers reports whether the target assignment gives out exactly the existing
// partitions of the topics the members subscribe to, each to a subscriber.
func (c *Coordinator) targetCovers(cg *consumerGroup) bool {
	want := 0
	for t := range cg.subscribed() {
		want += int(c.partitionCount(t))
	}
	got := 0
	for _, m := range cg.members {
		subs := cg.subscription(m)
		for t, parts := range m.target {
			n := c.partitionCount(t)
			for _, p := range parts {
				if p >= n || !slices.Contains(subs, t) {
					return false
				}
				got++
			}
		}
	}
	return got == want
}

func sortedMemberIDs(cg *consumerGroup) []string {
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
