package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/meta"
	"github.com/streamd/streamd/core/storage"
	"github.com/streamd/streamd/core/wasmhost"
)

// kafkaError is an error with the Kafka error code a response should carry.
type kafkaError struct {
	code    int16
	msg     string
	records []batch.RecordError // the records a produced batch was refused for
}

func (e *kafkaError) Error() string {
	if e.msg == "" {
		return kerr.ErrorForCode(e.code).Error()
	}
	return kerr.ErrorForCode(e.code).Error() + ": " + e.msg
}

func kafkaErr(k *kerr.Error, format string, args ...any) *kafkaError {
	return &kafkaError{code: k.Code, msg: fmt.Sprintf(format, args...)}
}

// codeOf maps any error to a Kafka error code and message.
func codeOf(err error) (int16, string) {
	if err == nil {
		return 0, ""
	}
	var ke *kafkaError
	if errors.As(err, &ke) {
		return ke.code, ke.msg
	}
	var kc interface{ KafkaCode() (int16, string) } // e.g. *group.Error
	if errors.As(err, &kc) {
		return kc.KafkaCode()
	}
	var kk *kerr.Error
	if errors.As(err, &kk) {
		return kk.Code, ""
	}
	switch {
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code, err.Error()
	case errors.Is(err, storage.ErrClosed), errors.Is(err, ErrClosed):
		return kerr.NotLeaderForPartition.Code, "partition is closing"
	}
	return kerr.KafkaStorageError.Code, err.Error()
}

// validTopicName applies Kafka's topic name rules (meta.ValidateTopicName) and maps a
// violation to INVALID_TOPIC_EXCEPTION.
func validTopicName(name string) error {
	if err := meta.ValidateTopicName(name); err != nil {
		return kafkaErr(kerr.InvalidTopicException, "%s", strings.TrimPrefix(err.Error(), "meta: "))
	}
	return nil
}

func partitionDir(root, topic string, p int32) string {
	return filepath.Join(root, topic+"-"+strconv.Itoa(int(p)))
}

func (b *Broker) storageOptions(s config.TopicSettings) storage.Options {
	return storage.Options{
		SegmentBytes:       s.SegmentBytes,
		SegmentMs:          s.SegmentMs,
		SegmentJitterMs:    s.SegmentJitterMs,
		IndexIntervalBytes: s.IndexIntervalBytes,
		Fsync:              b.cfg.LogFlushBeforeAck,
		DirectIO:           b.cfg.LogDirectIO,
		FlushInterval:      time.Duration(b.cfg.LogFlushIntervalMs) * time.Millisecond,
		CheckpointInterval: time.Duration(b.cfg.LogFlushOffsetCheckpointIntervalMs) * time.Millisecond,
	}
}

// loadTopics opens every topic in the metadata store.
func (b *Broker) loadTopics(ctx context.Context) error {
	tops, err := b.meta.Topics(ctx)
	if err != nil {
		return fmt.Errorf("broker: loading topics: %w", err)
	}
	for _, mt := range tops {
		t, err := b.openTopic(mt, 0)
		if err != nil {
			return err
		}
		b.topics[mt.Name] = t
		b.byID[mt.ID] = t
	}
	b.removeDeletedDirs()
	return nil
}

// openTopic opens (creating as needed) the logs of partitions [from, len) of mt.
func (b *Broker) openTopic(mt meta.Topic, from int) (*topic, error) {
	settings, err := b.cfg.ResolveTopic(mt.Configs)
	if err != nil {
		return nil, fmt.Errorf("broker: topic %q configs: %w", mt.Name, err)
	}
	t := &topic{meta: mt, settings: settings, part: b.newPartitioner(settings.Partitioner)}
	for i := from; i < len(mt.Partitions); i++ {
		p, err := b.openPartition(t, int32(i))
		if err != nil {
			for _, q := range t.parts {
				q.log.Close()
			}
			return nil, err
		}
		t.parts = append(t.parts, p)
	}
	return t, nil
}

func (b *Broker) openPartition(t *topic, i int32) (*partition, error) {
	dir := partitionDir(b.dir, t.meta.Name, i)
	if err := b.checkPartitionOwner(dir, t.meta.ID); err != nil {
		return nil, err
	}
	l, err := storage.Open(dir, b.storageOptions(t.settings), b.flusher,
		b.log.With("partition", fmt.Sprintf("%s-%d", t.meta.Name, i)))
	if err != nil {
		return nil, fmt.Errorf("broker: opening %s-%d: %w", t.meta.Name, i, err)
	}
	p := &partition{index: i, epoch: t.meta.Partitions[i].LeaderEpoch, log: l}
	if err := p.prod.rebuild(func(fn func(batch.Header)) error { return l.WalkTail(producerTailWindow, fn) }); err != nil {
		b.log.Warn("could not rebuild producer state; retried batches from before the restart may be written twice",
			"partition", fmt.Sprintf("%s-%d", t.meta.Name, i), "err", err)
	}
	return p, nil
}

// checkPartitionOwner makes sure a partition directory belongs to the topic id: a
// directory left by an older topic of the same name is removed. The id is kept in
// partition.metadata (Kafka's file name and format).
func (b *Broker) checkPartitionOwner(dir string, id [16]byte) error {
	want := fmt.Sprintf("version: 0\ntopic_id: %s\n", topicIDString(id))
	path := filepath.Join(dir, "partition.metadata")
	got, err := os.ReadFile(path)
	if err == nil && string(got) == want {
		return nil
	}
	if err == nil {
		b.log.Warn("removing partition data of an older topic with the same name", "dir", dir)
		if err := b.flusher.RemoveAll(dir); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return writeFileSync(path, []byte(want))
}

// removeDeletedDirs finishes deletions interrupted by a crash.
func (b *Broker) removeDeletedDirs() {
	ents, _ := os.ReadDir(b.dir)
	for _, e := range ents {
		if e.IsDir() && strings.HasSuffix(e.Name(), "-delete") {
			p := filepath.Join(b.dir, e.Name())
			if err := b.flusher.RemoveAll(p); err != nil {
				b.log.Warn("could not remove deleted partition dir", "dir", p, "err", err)
			}
		}
	}
}

// lookup returns the topic by name.
func (b *Broker) lookup(name string) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.topics[name]
}

func (b *Broker) lookupID(id [16]byte) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.byID[id]
}

// resolveTopic finds a topic by id (byID) or by name.
func (b *Broker) resolveTopic(byID bool, name string, id [16]byte) *topic {
	if byID {
		return b.lookupID(id)
	}
	return b.lookup(name)
}

// partitionOf returns the partition or a Kafka error.
func (b *Broker) partitionOf(name string, p int32) (*partition, error) {
	t := b.lookup(name)
	if t == nil {
		return nil, kafkaErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	if p < 0 || int(p) >= len(t.parts) {
		return nil, kafkaErr(kerr.UnknownTopicOrPartition, "topic %q has %d partitions, no partition %d", name, len(t.parts), p)
	}
	return t.parts[p], nil
}

// sortedTopics returns a snapshot of all topics sorted by name.
func (b *Broker) sortedTopics() []*topic {
	b.mu.RLock()
	out := make([]*topic, 0, len(b.topics))
	for _, t := range b.topics {
		out = append(out, t)
	}
	b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].meta.Name < out[j].meta.Name })
	return out
}

// createTopic creates a topic. partitions/rf of -1 take the broker defaults.
func (b *Broker) createTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]string, validateOnly bool) (*topic, error) {
	if err := validTopicName(name); err != nil {
		return nil, err
	}
	if partitions == -1 {
		partitions = b.cfg.NumPartitions
	}
	if partitions <= 0 {
		return nil, kafkaErr(kerr.InvalidPartitions, "number of partitions must be larger than 0, got %d", partitions)
	}
	if partitions > 100000 {
		return nil, kafkaErr(kerr.InvalidPartitions, "number of partitions %d is over the limit of 100000", partitions)
	}
	if rf == -1 {
		rf = int16(b.cfg.DefaultReplicationFactor)
	}
	if rf <= 0 {
		return nil, kafkaErr(kerr.InvalidReplicationFactor, "replication factor must be larger than 0, got %d", rf)
	}
	if rf > 1 {
		return nil, kafkaErr(kerr.InvalidReplicationFactor, "replication factor: %d larger than available brokers: 1", rf)
	}
	for k, v := range configs {
		if err := config.ValidateTopicConfig(k, v); err != nil {
			return nil, kafkaErr(kerr.InvalidConfig, "%v", err)
		}
	}
	settings, err := b.cfg.ResolveTopic(configs)
	if err != nil {
		return nil, kafkaErr(kerr.InvalidConfig, "%v", err)
	}
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	var t *topic
	err = b.attachPlugin("partitioner", settings.Partitioner, wasmhost.KindPartitioner, func() error {
		t, err = b.createTopicLocked(ctx, name, partitions, configs, validateOnly)
		return err
	})
	return t, err
}

// createTopicLocked is createTopic once the request is validated (b.adminMu held).
func (b *Broker) createTopicLocked(ctx context.Context, name string, partitions int32, configs map[string]string, validateOnly bool) (*topic, error) {
	if b.lookup(name) != nil {
		return nil, kafkaErr(kerr.TopicAlreadyExists, "topic %q already exists", name)
	}
	if collides := b.collidingTopic(name); collides != "" {
		return nil, kafkaErr(kerr.InvalidTopicException, "topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", name, collides)
	}
	mt := meta.Topic{
		Name:       name,
		Partitions: make([]meta.PartitionMeta, partitions),
		Configs:    maps.Clone(configs),
		Internal:   strings.HasPrefix(name, "__"),
		CreatedAt:  time.Now().UTC(),
	}
	if mt.Configs == nil {
		mt.Configs = map[string]string{}
	}
	mt.ID = meta.NewTopicID()
	if validateOnly {
		s, _ := b.cfg.ResolveTopic(configs)
		return &topic{meta: mt, settings: s, part: b.newPartitioner(s.Partitioner)}, nil
	}
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	t, err := b.openTopic(mt, 0)
	if err != nil {
		return nil, err
	}
	if err := b.meta.PutTopic(ctx, mt); err != nil {
		for _, p := range t.parts {
			_ = p.log.Delete()
		}
		return nil, kafkaErr(kerr.KafkaStorageError, "writing topic metadata: %v", err)
	}
	b.mu.Lock()
	b.topics[name] = t
	b.byID[mt.ID] = t
	b.mu.Unlock()
	b.topicsChanged()
	b.log.Info("topic created", "topic", name, "partitions", partitions, "configs", configs)
	return t, nil
}

func (b *Broker) checkOpen() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return kafkaErr(kerr.NotController, "broker is shutting down")
	}
	return nil
}

// collidingTopic reports an existing topic whose name differs only by '.' vs '_'.
func (b *Broker) collidingTopic(name string) string {
	norm := strings.ReplaceAll(name, ".", "_")
	b.mu.RLock()
	defer b.mu.RUnlock()
	for n := range b.topics {
		if n != name && strings.ReplaceAll(n, ".", "_") == norm {
			return n
		}
	}
	return ""
}

// autoCreate creates name with broker defaults if auto.create.topics.enable allows it.
// It returns the topic (existing or new) or nil.
func (b *Broker) autoCreate(ctx context.Context, name string) (*topic, error) {
	if t := b.lookup(name); t != nil {
		return t, nil
	}
	if !b.cfg.AutoCreateTopicsEnable {
		return nil, kafkaErr(kerr.UnknownTopicOrPartition, "topic %q does not exist and auto.create.topics.enable is false", name)
	}
	t, err := b.createTopic(ctx, name, -1, -1, nil, false)
	var ke *kafkaError
	if errors.As(err, &ke) && ke.code == kerr.TopicAlreadyExists.Code {
		return b.lookup(name), nil
	}
	return t, err
}

// deleteTopic removes a topic's metadata and data.
func (b *Broker) deleteTopic(ctx context.Context, t *topic) error {
	if !b.cfg.DeleteTopicEnable {
		return kafkaErr(kerr.TopicDeletionDisabled, "delete.topic.enable is false")
	}
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	if b.lookupID(t.meta.ID) != t {
		return kafkaErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", t.meta.Name)
	}
	if err := b.meta.DeleteTopic(ctx, t.meta.Name); err != nil {
		return kafkaErr(kerr.KafkaStorageError, "deleting topic metadata: %v", err)
	}
	b.mu.Lock()
	delete(b.topics, t.meta.Name)
	delete(b.byID, t.meta.ID)
	b.mu.Unlock()
	b.topicsChanged()
	for _, p := range t.parts {
		dir := partitionDir(b.dir, t.meta.Name, p.index)
		gone := fmt.Sprintf("%s.%s-delete", dir, topicIDString(t.meta.ID))
		// The renamed directory is finished by removeDeletedDirs after a crash;
		// the segment files' blocks are freed gradually (storage's reaper).
		if err := p.log.DeleteVia(gone); err != nil {
			b.log.Warn("deleting partition", "dir", dir, "err", err)
		}
	}
	b.log.Info("topic deleted", "topic", t.meta.Name)
	return nil
}

// createPartitions grows a topic to count partitions.
func (b *Broker) createPartitions(ctx context.Context, name string, count int32, validateOnly bool) error {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	t := b.lookup(name)
	if t == nil {
		return kafkaErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	cur := int32(len(t.parts))
	if count <= cur {
		return kafkaErr(kerr.InvalidPartitions, "topic %q currently has %d partitions, %d would not be an increase", name, cur, count)
	}
	if count > 100000 {
		return kafkaErr(kerr.InvalidPartitions, "number of partitions %d is over the limit of 100000", count)
	}
	if validateOnly {
		return nil
	}
	mt := t.meta
	mt.Partitions = append(append([]meta.PartitionMeta(nil), t.meta.Partitions...), make([]meta.PartitionMeta, count-cur)...)
	nt := &topic{meta: mt, settings: t.settings, parts: append([]*partition(nil), t.parts...), part: t.part}
	var opened []*partition
	for i := cur; i < count; i++ {
		p, err := b.openPartition(nt, i)
		if err != nil {
			for _, q := range opened {
				_ = q.log.Delete()
			}
			return kafkaErr(kerr.KafkaStorageError, "%v", err)
		}
		opened = append(opened, p)
	}
	if err := b.meta.PutTopic(ctx, mt); err != nil {
		for _, q := range opened {
			_ = q.log.Delete()
		}
		return kafkaErr(kerr.KafkaStorageError, "writing topic metadata: %v", err)
	}
	nt.parts = append(nt.parts, opened...)
	b.mu.Lock()
	b.topics[name] = nt
	b.byID[mt.ID] = nt
	b.mu.Unlock()
	b.topicsChanged()
	b.log.Info("partitions created", "topic", name, "from", cur, "to", count)
	return nil
}

// setTopicConfigs computes a topic's new config overrides from its current ones (under
// the admin lock, so concurrent changes do not lose updates), validates and applies them.
func (b *Broker) setTopicConfigs(ctx context.Context, name string, change func(cur map[string]string) (map[string]string, error), validateOnly bool) error {
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	t := b.lookup(name)
	if t == nil {
		return kafkaErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	configs, err := change(maps.Clone(t.meta.Configs))
	if err != nil {
		return err
	}
	for k, v := range configs {
		if err := config.ValidateTopicConfig(k, v); err != nil {
			return kafkaErr(kerr.InvalidConfig, "%v", err)
		}
	}
	settings, err := b.cfg.ResolveTopic(configs)
	if err != nil {
		return kafkaErr(kerr.InvalidConfig, "%v", err)
	}
	return b.attachPlugin("partitioner", settings.Partitioner, wasmhost.KindPartitioner, func() error {
		if validateOnly {
			return nil
		}
		return b.applyTopicConfigs(ctx, t, configs, settings)
	})
}

// applyTopicConfigs writes and installs a topic's new configs (b.adminMu held).
func (b *Broker) applyTopicConfigs(ctx context.Context, t *topic, configs map[string]string, settings config.TopicSettings) error {
	name := t.meta.Name
	mt := t.meta
	mt.Configs = maps.Clone(configs)
	if err := b.meta.PutTopic(ctx, mt); err != nil {
		return kafkaErr(kerr.KafkaStorageError, "writing topic metadata: %v", err)
	}
	nt := &topic{meta: mt, settings: settings, parts: t.parts, part: t.part}
	if settings.Partitioner != t.settings.Partitioner {
		nt.part = b.newPartitioner(settings.Partitioner)
	}
	for _, p := range t.parts {
		p.log.SetOptions(b.storageOptions(settings))
	}
	b.mu.Lock()
	b.topics[name] = nt
	b.byID[mt.ID] = nt
	b.mu.Unlock()
	b.log.Info("topic configs changed", "topic", name, "configs", configs)
	return nil
}

// topicIDString renders a topic id the way Kafka prints a Uuid (base64url, no padding).
func topicIDString(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
