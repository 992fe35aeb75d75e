package config

import (
	"errors"
	"fmt"
	"sort"
)

// TopicSettings are a topic's effective settings: the broker defaults overridden by
// the topic's own configs. All durations are in milliseconds.
type TopicSettings struct {
	CleanupPolicy   string // "delete", "compact" or "compact,delete"
	Compact, Delete bool   // what CleanupPolicy includes

	MaxMessageBytes    int32
	SegmentBytes       int64
	SegmentMs          int64
	SegmentJitterMs    int64
	SegmentIndexBytes  int32
	IndexIntervalBytes int32
	FileDeleteDelayMs  int64
	Preallocate        bool

	RetentionMs    int64 // -1 (any negative) = forever
	RetentionBytes int64 // negative = no limit

	TimestampType string // "CreateTime" or "LogAppendTime"
	// TimestampBeforeMaxMs / TimestampAfterMaxMs are the effective bounds on CreateTime
	// timestamps: message.timestamp.before/after.max.ms, each lowered to the deprecated
	// message.timestamp.difference.max.ms when that is smaller.
	TimestampBeforeMaxMs, TimestampAfterMaxMs int64

	DeleteRetentionMs      int64
	MinCompactionLagMs     int64
	MaxCompactionLagMs     int64
	MinCleanableDirtyRatio float64

	MinInsyncReplicas     int32
	UncleanLeaderElection bool
	CompressionType       string // uncompressed, zstd, lz4, snappy, gzip or producer

	FlushMessages, FlushMs int64

	// Partitioner is the topic's partitioning strategy: a built-in name or "wasm:NAME".
	Partitioner string
	// PartitionerEnforce rejects Kafka produces whose records do not belong to the
	// partition they were sent to.
	PartitionerEnforce bool
}

// ResolveTopic computes a topic's effective settings from the broker defaults and the
// topic's configs (Kafka names, string values). Every invalid config is reported
// (errors.Join of [*TopicConfigError]), as is min.compaction.lag.ms >
// max.compaction.lag.ms.
func (c Config) ResolveTopic(overrides map[string]string) (TopicSettings, error) {
	var errs []error
	names := make([]string, 0, len(overrides))
	for k := range overrides {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := ValidateTopicConfig(k, overrides[k]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return TopicSettings{}, errors.Join(errs...)
	}

	v := make(map[string]any, len(topicDefs))
	for _, d := range topicDefs {
		s, ok := overrides[d.Name]
		if !ok {
			s, _ = c.TopicDefault(d.Name)
		}
		x, p := d.parse(s)
		if p != "" { // only when the broker Config itself is invalid
			return TopicSettings{}, &TopicConfigError{Name: d.Name, Value: s,
				Problem: fmt.Sprintf("broker default %s: %s", d.BrokerSynonym, p)}
		}
		v[d.Name] = x
	}

	diff := v["message.timestamp.difference.max.ms"].(int64)
	policy := v["cleanup.policy"].(string)
	ts := TopicSettings{
		CleanupPolicy:          policy,
		Compact:                policy != "delete",
		Delete:                 policy != "compact",
		MaxMessageBytes:        v["max.message.bytes"].(int32),
		SegmentBytes:           int64(v["segment.bytes"].(int32)),
		SegmentMs:              v["segment.ms"].(int64),
		SegmentJitterMs:        v["segment.jitter.ms"].(int64),
		SegmentIndexBytes:      v["segment.index.bytes"].(int32),
		IndexIntervalBytes:     v["index.interval.bytes"].(int32),
		FileDeleteDelayMs:      v["file.delete.delay.ms"].(int64),
		Preallocate:            v["preallocate"].(bool),
		RetentionMs:            v["retention.ms"].(int64),
		RetentionBytes:         v["retention.bytes"].(int64),
		TimestampType:          v["message.timestamp.type"].(string),
		TimestampBeforeMaxMs:   min(v["message.timestamp.before.max.ms"].(int64), diff),
		TimestampAfterMaxMs:    min(v["message.timestamp.after.max.ms"].(int64), diff),
		DeleteRetentionMs:      v["delete.retention.ms"].(int64),
		MinCompactionLagMs:     v["min.compaction.lag.ms"].(int64),
		MaxCompactionLagMs:     v["max.compaction.lag.ms"].(int64),
		MinCleanableDirtyRatio: v["min.cleanable.dirty.ratio"].(float64),
		MinInsyncReplicas:      v["min.insync.replicas"].(int32),
		UncleanLeaderElection:  v["unclean.leader.election.enable"].(bool),
		CompressionType:        v["compression.type"].(string),
		FlushMessages:          v["flush.messages"].(int64),
		FlushMs:                v["flush.ms"].(int64),
		Partitioner:            v["partitioner"].(string),
		PartitionerEnforce:     v["partitioner.enforce"].(bool),
	}
	if ts.MinCompactionLagMs > ts.MaxCompactionLagMs {
		name := "min.compaction.lag.ms"
		if _, ok := overrides[name]; !ok {
			name = "max.compaction.lag.ms"
		}
		return TopicSettings{}, &TopicConfigError{Name: name, Value: overrides[name],
			Problem: fmt.Sprintf("min.compaction.lag.ms (%d) must not be greater than max.compaction.lag.ms (%d)",
				ts.MinCompactionLagMs, ts.MaxCompactionLagMs)}
	}
	if ts.PartitionerEnforce && ts.Partitioner == "round-robin" {
		return TopicSettings{}, &TopicConfigError{Name: "partitioner.enforce", Value: overrides["partitioner.enforce"],
			Problem: "cannot be true with partitioner round-robin, which ignores the record's content"}
	}
	return ts, nil
}
