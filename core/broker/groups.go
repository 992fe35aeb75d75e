package broker

// Group coordination glue: this broker is the coordinator of every group. The state
// machine lives in core/group; committed offsets are records in the compacted internal
// topic __consumer_offsets (created at the first commit, offsets.topic.num.partitions
// partitions; a group's partition is abs(javaHashCode(group)) % partitions, Kafka's rule;
// keys and values use kmsg's OffsetCommitKey v1 / OffsetCommitValue v3 schema). Group
// metadata (generation, leader, protocol, members with their subscriptions and
// assignments) is written to the same partition as Kafka's GroupMetadataKey v2 /
// GroupMetadataValue v3 records when a rebalance completes and when a group becomes Empty,
// with a tombstone when it is deleted: the coordinator queues them and one writer
// goroutine appends them (the SyncGroup answer does not wait for that write, unlike
// Kafka: a crash right after a rebalance can restore the previous generation, whose
// members then rejoin). At start the topic is read back before the listener serves,
// rebuilding committed offsets and groups: a Stable group comes back Stable with the same
// generation, member ids and assignments, each member with a fresh session deadline.
// Offsets of empty groups expire after offsets.retention.minutes (tombstones).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/group"
)

const offsetsTopicName = "__consumer_offsets"

// startGroups starts the coordinator and replays __consumer_offsets if it exists.
func (b *Broker) startGroups() error {
	b.groups = group.New(group.Config{
		MinSessionTimeout:     time.Duration(b.cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:     time.Duration(b.cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
		InitialRebalanceDelay: time.Duration(b.cfg.GroupInitialRebalanceDelayMs) * time.Millisecond,
		MaxSize:               int(b.cfg.GroupMaxSize),
		Partitions:            b.partitionCount,
		Lookup:                b.lookupAssignor,
		SaveAssignors:         b.saveGroupConfigs,
		DefaultAssignor:       b.cfg.GroupAssignor,
		Logger:                b.log,

		ConsumerSessionTimeout:    msDur(b.cfg.GroupConsumerSessionTimeoutMs),
		ConsumerHeartbeatInterval: msDur(b.cfg.GroupConsumerHeartbeatIntervalMs),
		ConsumerAssignors:         b.cfg.ConsumerAssignors(),
		ConsumerMaxSize:           int(b.cfg.GroupConsumerMaxSize),
		TopicID:                   b.topicID,
		TopicName:                 b.topicName,
		Topics:                    b.topicNames,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := b.loadGroupConfigs(ctx)
	cancel()
	if err != nil {
		b.groups.Close()
		return fmt.Errorf("broker: loading group configs: %w", err)
	}
	t := b.lookup(offsetsTopicName)
	if t == nil {
		b.startOffsetExpiry()
		b.startGroupMetadataWriter()
		return nil
	}
	n := 0
	for _, p := range t.parts {
		k, err := b.replayOffsets(p)
		if err != nil {
			b.groups.Close()
			return fmt.Errorf("broker: loading %s-%d: %w", offsetsTopicName, p.index, err)
		}
		n += k
	}
	b.groups.LoadDone()
	b.log.Info("groups loaded", "records", n, "groups", len(b.groups.List()))
	b.startOffsetExpiry()
	b.startGroupMetadataWriter()
	return nil
}

// startGroupMetadataWriter appends the coordinator's group metadata records as they are
// queued, until the broker stops (stopGroups writes what is left).
func (b *Broker) startGroupMetadataWriter() {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		for {
			select {
			case <-b.stop:
				return
			case <-b.groups.MetadataReady():
			}
			b.flushGroupMetadata()
		}
	}()
}

// flushGroupMetadata writes the queued group records and tells the coordinator, whose
// ConsumerGroupHeartbeat answers wait for it (Persisted).
func (b *Broker) flushGroupMetadata() {
	recs, seq := b.groups.TakeMetadataSeq()
	b.writeGroupMetadata(context.Background(), recs)
	b.groups.Persisted(seq)
}

// maxGroupBatch bounds the records of one group metadata batch.
const maxGroupBatch = 1 << 20

// writeGroupMetadata appends group metadata records to their groups' partitions (one
// batch per partition, in queue order) and waits until they are durable. A failed write
// is logged: the state stays in memory and is written again at its next change.
func (b *Broker) writeGroupMetadata(ctx context.Context, recs []group.MetadataRecord) {
	type run struct {
		group string
		recs  []batch.Record
		size  int
	}
	var runs []*run
	byPart := map[int32]*run{}
	var nparts int32
	for _, r := range recs {
		if nparts == 0 {
			if r.Value == nil && b.lookup(offsetsTopicName) == nil {
				continue
			}
			t, err := b.offsetsTopic(ctx)
			if err != nil {
				b.log.Warn("writing group metadata", "group", r.Group, "err", err)
				return
			}
			nparts = int32(len(t.parts))
		}
		pi := group.PartitionFor(r.Group, nparts)
		cur := byPart[pi]
		if cur == nil || cur.size > maxGroupBatch {
			cur = &run{group: r.Group}
			byPart[pi] = cur
			runs = append(runs, cur)
		}
		cur.recs = append(cur.recs, batch.Record{Key: r.Key, Value: r.Value})
		cur.size += len(r.Key) + len(r.Value)
	}
	type pending struct {
		p    *partition
		last int64
	}
	var waits []pending
	for _, r := range runs {
		p, last, err := b.appendGroupRecords(ctx, r.group, r.recs)
		if err != nil {
			b.log.Warn("writing group metadata", "group", r.group, "records", len(r.recs), "err", err)
			continue
		}
		waits = append(waits, pending{p, last})
	}
	for _, w := range waits {
		if err := b.waitGroupDurable(ctx, w.p, w.last); err != nil {
			b.log.Warn("writing group metadata", "partition", w.p.index, "err", err)
		}
	}
}

// startOffsetExpiry removes committed offsets of empty groups after
// offsets.retention.minutes, every offsets.retention.check.interval.ms, writing
// tombstones for them.
func (b *Broker) startOffsetExpiry() {
	interval := time.Duration(b.cfg.OffsetsRetentionCheckIntervalMs) * time.Millisecond
	retention := time.Duration(b.cfg.OffsetsRetentionMs()) * time.Millisecond
	if interval <= 0 || retention <= 0 {
		return
	}
	b.every(interval, func() {
		for name, tps := range b.groups.ExpireOffsets(time.Now(), retention) {
			if err := b.tombstones(context.Background(), name, tps); err != nil {
				b.log.Warn("writing tombstones of expired offsets", "group", name, "err", err)
			}
			b.log.Info("expired committed offsets", "group", name, "partitions", len(tps))
		}
	})
}

func (b *Broker) stopGroups() {
	if b.groups != nil {
		b.groups.Close()
		b.flushGroupMetadata()
	}
}

func (b *Broker) replayOffsets(p *partition) (int, error) {
	n := 0
	off := p.log.StartOffset()
	for {
		res, err := p.log.Read(off, 1<<20)
		if err != nil {
			return n, err
		}
		if len(res.Data) == 0 {
			return n, nil
		}
		bs, err := batch.Split(res.Data)
		if err != nil {
			return n, err
		}
		for _, bb := range bs {
			h, recs, err := batch.Records(bb)
			if err != nil {
				return n, err
			}
			off = h.NextOffset()
			if h.Control() {
				continue
			}
			for _, r := range recs {
				if err := b.groups.Load(r.Key, r.Value); err != nil {
					b.log.Warn("skipping unreadable __consumer_offsets record", "partition", p.index, "err", err)
					continue
				}
				n++
			}
		}
	}
}

// offsetsTopic returns __consumer_offsets, creating it on first use.
func (b *Broker) offsetsTopic(ctx context.Context) (*topic, error) {
	if t := b.lookup(offsetsTopicName); t != nil {
		return t, nil
	}
	t, err := b.createTopic(ctx, offsetsTopicName, b.cfg.OffsetsTopicNumPartitions, 1,
		map[string]string{"cleanup.policy": "compact", "segment.bytes": strconv.Itoa(int(b.cfg.OffsetsTopicSegmentBytes))}, false)
	var ke *kafkaError
	if errors.As(err, &ke) && ke.code == kerr.TopicAlreadyExists.Code {
		return b.lookup(offsetsTopicName), nil
	}
	return t, err
}

// appendGroupRecords appends records of one group to its __consumer_offsets partition
// and returns the partition and the last offset to wait durable for.
func (b *Broker) appendGroupRecords(ctx context.Context, name string, recs []batch.Record) (*partition, int64, error) {
	t, err := b.offsetsTopic(ctx)
	if err != nil {
		return nil, 0, err
	}
	p := t.parts[group.PartitionFor(name, int32(len(t.parts)))]
	bb := batch.Build(batch.BuildOptions{ProducerID: -1, PartitionLeaderEpoch: p.epoch}, recs, time.Now().UnixMilli())
	res, err := p.log.Append(bb, p.epoch)
	if err != nil {
		return nil, 0, kafkaErr(kerr.KafkaStorageError, "appending to %s-%d: %v", offsetsTopicName, p.index, err)
	}
	return p, res.LastOffset, nil
}

// waitGroupDurable waits until the appended records are durable.
func (b *Broker) waitGroupDurable(ctx context.Context, p *partition, last int64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.log.WaitDurable(ctx, last); err != nil {
		return kafkaErr(kerr.RequestTimedOut, "offset commit not durable: %v", err)
	}
	return nil
}

// tombstones writes deletions of the given offsets of a group.
func (b *Broker) tombstones(ctx context.Context, name string, tps []group.TopicPartition) error {
	if len(tps) == 0 || b.lookup(offsetsTopicName) == nil {
		return nil
	}
	recs := make([]batch.Record, len(tps))
	for i, tp := range tps {
		recs[i] = batch.Record{Key: group.OffsetKey(name, tp)}
	}
	p, last, err := b.appendGroupRecords(ctx, name, recs)
	if err != nil {
		return err
	}
	return b.waitGroupDurable(ctx, p, last)
}

// topicsChanged tells the group coordinator that topics or partition counts changed
// (consumer groups re-check their subscriptions).
func (b *Broker) topicsChanged() {
	if b.groups != nil {
		b.groups.TopicsChanged()
	}
}

func errCode(err error) int16 {
	code, _ := codeOf(err)
	return code
}

func clientHost(c interface{ RemoteAddr() string }) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr())
	if err != nil {
		return "/" + c.RemoteAddr()
	}
	return "/" + host
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptrStr(s string) *string { return &s }

func msDur(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }
