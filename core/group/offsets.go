package group

import (
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Offset is a committed offset.
type Offset struct {
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  int64 // ms
}

func sortTPs(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// ValidateCommit checks that an OffsetCommit (of the given request version) of tps may be
// applied (Kafka's rules): a commit with a negative generation is accepted for an empty
// (or unknown) group (admin tools, standalone consumers); otherwise the member and
// generation must be current and the group not be awaiting its assignment.
//
// For a KIP-848 consumer group the generation is the member epoch: a member must commit
// with OffsetCommit v9+ (UNSUPPORTED_VERSION) and an epoch no newer than its own
// (STALE_MEMBER_EPOCH). An older epoch is accepted for the partitions the member has held
// since that epoch, per partition (KIP-1251: a commit racing the heartbeat that moved the
// member to a new epoch); the other partitions get STALE_MEMBER_EPOCH in partErrs.
func (c *Coordinator) ValidateCommit(group string, version int16, gen int32, memberID, instanceID string, tps []TopicPartition) (partErrs map[TopicPartition]error, err error) {
	g := c.lock(group, false)
	if g == nil {
		if gen < 0 {
			return nil, nil
		}
		return nil, kerr.IllegalGeneration
	}
	defer g.mu.Unlock()
	if cg := g.cg; cg != nil {
		if gen < 0 && len(cg.members) == 0 {
			return nil, nil
		}
		m := cg.members[memberID]
		switch {
		case m == nil:
			return nil, errorf(kerr.UnknownMemberID, "Member %s is not a member of group %s.", memberID, group)
		case version < 9:
			return nil, errorf(kerr.UnsupportedVersion, "OffsetCommit version 9 or above must be used by members using the consumer group protocol.")
		case gen > m.epoch || gen < 0:
			return nil, errorf(kerr.StaleMemberEpoch, "The member epoch %d of member %s is stale (current %d).", gen, memberID, m.epoch)
		case gen < m.epoch:
			for _, tp := range tps {
				if e, held := m.since[tp]; !held || e > gen {
					if partErrs == nil {
						partErrs = map[TopicPartition]error{}
					}
					partErrs[tp] = kerr.StaleMemberEpoch
				}
			}
		}
		return partErrs, nil
	}
	switch {
	case g.state == Dead:
		return nil, kerr.CoordinatorNotAvailable
	case gen < 0 && g.state == Empty:
		return nil, nil
	case g.state == CompletingRebalance:
		return nil, kerr.RebalanceInProgress
	}
	if err := g.checkMember(memberID, instanceID); err != nil {
		return nil, err
	}
	if gen != g.generation {
		return nil, kerr.IllegalGeneration
	}
	m := g.members[memberID]
	m.deadline = c.now().Add(m.session)
	return nil, nil
}

// Commit stores committed offsets in memory (after they are durable in the log); an
// unknown group is created Empty.
func (c *Coordinator) Commit(group string, offs map[TopicPartition]Offset) {
	g := c.lock(group, true)
	defer g.mu.Unlock()
	for tp, o := range offs {
		g.offsets[tp] = o
	}
}

// ValidateFetch checks the member id and epoch of an OffsetFetch v9+ (Kafka checks them
// for consumer groups only): no member id with a negative epoch is an admin fetch.
func (c *Coordinator) ValidateFetch(group string, memberID *string, epoch int32) error {
	if memberID == nil && epoch < 0 {
		return nil
	}
	g := c.lock(group, false)
	if g == nil {
		return nil
	}
	defer g.mu.Unlock()
	if g.cg == nil {
		return nil
	}
	id := derefStr(memberID)
	m := g.cg.members[id]
	switch {
	case m == nil:
		return errorf(kerr.UnknownMemberID, "Member %s is not a member of group %s.", id, group)
	case epoch != m.epoch:
		return errorf(kerr.StaleMemberEpoch, "The member epoch %d of member %s is stale (current %d).", epoch, id, m.epoch)
	}
	return nil
}

// Load applies one __consumer_offsets record read back at start (a committed offset, or
// group metadata: persist.go, consumer_records.go); a nil value deletes. Call LoadDone
// after the last record.
func (c *Coordinator) Load(key, value []byte) error {
	if len(key) >= 2 {
		if v := int16(binary.BigEndian.Uint16(key)); v >= recGroupMeta && v <= recCurrent {
			return c.loadConsumer(key, value)
		}
	}
	group, tp, isOffset, err := DecodeKey(key)
	if err != nil {
		return err
	}
	if !isOffset {
		name, err := decodeGroupKey(key)
		if err != nil {
			return err
		}
		return c.loadMetadata(name, value)
	}
	if value == nil {
		if g := c.lock(group, false); g != nil {
			delete(g.offsets, tp)
			g.mu.Unlock()
		}
		return nil
	}
	o, err := DecodeValue(value)
	if err != nil {
		return err
	}
	c.Commit(group, map[TopicPartition]Offset{tp: o})
	return nil
}

// DeleteOffsets removes committed offsets of partitions no live member is subscribed to
// (OffsetDelete); it returns per-partition errors (GROUP_SUBSCRIBED_TO_TOPIC). subscribed
// decodes a classic member's subscription; a consumer group knows its members' topics.
func (c *Coordinator) DeleteOffsets(group string, tps []TopicPartition, subscribed func(metadata []byte, topic string) bool) (map[TopicPartition]error, error) {
	g := c.lock(group, false)
	if g == nil {
		return nil, kerr.GroupIDNotFound
	}
	defer g.mu.Unlock()
	if g.state == Dead {
		return nil, kerr.GroupIDNotFound
	}
	var consumerSubs map[string]bool
	if g.cg != nil && len(g.cg.members) > 0 {
		consumerSubs = g.cg.subscribed()
	}
	out := map[TopicPartition]error{}
	for _, tp := range tps {
		busy := consumerSubs[tp.Topic]
		if g.state != Empty && subscribed != nil {
			for _, m := range g.members {
				if subscribed(m.metadataFor(g.protocol), tp.Topic) {
					busy = true
				}
			}
		}
		if busy {
			out[tp] = kerr.GroupSubscribedToTopic
			continue
		}
		delete(g.offsets, tp)
		out[tp] = nil
	}
	return out, nil
}

// ExpireOffsets removes the committed offsets of Empty groups that are older than
// retention (offsets.retention.minutes, KIP-211): an offset expires once now passes
// retention after both its commit and the moment the group last became Empty. In a
// consumer group with members, offsets of topics no member subscribes to expire after
// retention from their commit (Kafka's rule). A group left with neither members nor
// offsets is removed. It returns the removed offsets by group, for the caller's
// tombstones.
func (c *Coordinator) ExpireOffsets(now time.Time, retention time.Duration) map[string][]TopicPartition {
	out := map[string][]TopicPartition{}
	for _, g := range c.snapshot() {
		g.mu.Lock()
		if g.state != Empty || g.removed || len(g.pending) > 0 {
			g.mu.Unlock()
			continue
		}
		var active map[string]bool // consumer group with members: its subscribed topics
		if g.cg != nil && len(g.cg.members) > 0 {
			active = g.cg.subscribed()
		}
		var gone []TopicPartition
		for tp, o := range g.offsets {
			base := time.UnixMilli(o.CommitTime)
			if active != nil {
				if active[tp.Topic] {
					continue
				}
			} else if g.emptySince.After(base) {
				base = g.emptySince
			}
			if now.Sub(base) > retention {
				gone = append(gone, tp)
				delete(g.offsets, tp)
			}
		}
		empty := len(g.offsets) == 0
		g.mu.Unlock()
		if len(gone) > 0 {
			sortTPs(gone)
			out[g.name] = gone
		}
		if empty {
			c.drop(g, false)
		}
	}
	return out
}

// Fetched is one partition's committed offset (-1 when none).
type Fetched struct {
	TopicPartition
	Offset
}

// FetchOffsets returns committed offsets: of tps, or of every partition if tps is nil.
// An unknown partition gets offset -1.
func (c *Coordinator) FetchOffsets(group string, tps []TopicPartition) []Fetched {
	g := c.lock(group, false)
	var offs map[TopicPartition]Offset
	if g != nil {
		defer g.mu.Unlock()
		offs = g.offsets
	}
	if tps == nil {
		for tp := range offs {
			tps = append(tps, tp)
		}
		sortTPs(tps)
	}
	out := make([]Fetched, 0, len(tps))
	for _, tp := range tps {
		o, ok := offs[tp]
		if !ok {
			o = Offset{Offset: -1, LeaderEpoch: -1}
		}
		out = append(out, Fetched{TopicPartition: tp, Offset: o})
	}
	return out
}

// PartitionFor is Kafka's __consumer_offsets partition of a group:
// abs(Java String.hashCode(group)) % n.
func PartitionFor(group string, n int32) int32 {
	var h int32
	for _, r := range utf16Units(group) {
		h = 31*h + int32(r)
	}
	if h == -1<<31 {
		return 0 // Kafka's Utils.abs maps MinValue to 0
	}
	if h < 0 {
		h = -h
	}
	return h % n
}

func utf16Units(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

// OffsetKey encodes the __consumer_offsets key of a committed offset (key version 1).
func OffsetKey(group string, tp TopicPartition) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version = 1
	k.Group, k.Topic, k.Partition = group, tp.Topic, tp.Partition
	return k.AppendTo(nil)
}

// OffsetValue encodes the value of a committed offset (value version 3).
func OffsetValue(o Offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = 3
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.Offset, o.LeaderEpoch, o.Metadata, o.CommitTime
	return v.AppendTo(nil)
}

// DecodeKey decodes a __consumer_offsets key. isOffset is false for group metadata keys
// (version 2; see GroupMetadataKey).
func DecodeKey(key []byte) (group string, tp TopicPartition, isOffset bool, err error) {
	if len(key) < 2 {
		return "", tp, false, fmt.Errorf("group: short __consumer_offsets key")
	}
	switch v := int16(binary.BigEndian.Uint16(key)); v {
	case 0, 1:
		k := kmsg.NewOffsetCommitKey()
		if err := k.ReadFrom(key); err != nil {
			return "", tp, false, fmt.Errorf("group: offset key: %w", err)
		}
		return k.Group, TopicPartition{k.Topic, k.Partition}, true, nil
	case 2:
		return "", tp, false, nil
	default:
		return "", tp, false, fmt.Errorf("group: unknown __consumer_offsets key version %d", v)
	}
}

// DecodeValue decodes a committed offset value (versions 0-4).
func DecodeValue(value []byte) (Offset, error) {
	v := kmsg.NewOffsetCommitValue()
	if err := v.ReadFrom(value); err != nil {
		return Offset{}, fmt.Errorf("group: offset value: %w", err)
	}
	o := Offset{Offset: v.Offset, LeaderEpoch: v.LeaderEpoch, Metadata: v.Metadata, CommitTime: v.CommitTimestamp}
	if v.Version < 3 {
		o.LeaderEpoch = -1
	}
	return o, nil
}

// NowMillis is the commit timestamp for a new commit.
func NowMillis() int64 { return time.Now().UnixMilli() }
