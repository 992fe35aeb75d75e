// Package config loads the broker configuration (config.toml) into a plain [Config]
// struct and holds the catalogue of Kafka topic-level configs.
//
// # File format
//
// config.toml is TOML. Broker settings use Apache Kafka's names; because those contain
// dots they are written as quoted keys at the top level:
//
//	"log.segment.bytes" = 1073741824
//	"log.retention.hours" = 168
//
// Unquoted dotted keys (log.segment.bytes = 1) and tables ([log] segment.bytes = 1) name
// the same setting: every key is flattened to its dotted path before it is matched.
// Settings that Kafka does not have live in two tables:
//
//	[metadata]   nats_url, store_dir, kv_bucket, listen   (cluster metadata in NATS JetStream KV)
//	[admin]      listen                                   (HTTP: /metrics and /health)
//	[plugins]    bucket, max_module_bytes, memory_limit_bytes, call_timeout_ms, pool_size
//	                                                      (Wasm plugin registry and host)
//
// A setting missing from the file keeps its default ([Default]); the config.toml at the
// repository root lists every setting with its default and a one-line comment, and
// docs/config.md is the reference table. Some Kafka settings are "unset" by default and
// fall back to a coarser unit (log.retention.ms → log.retention.minutes →
// log.retention.hours; log.roll.ms → log.roll.hours; log.roll.jitter.ms →
// log.roll.jitter.hours). A file must still be able to list them, so for those keys the
// value 0 means "not set".
//
// # Errors
//
// [Load] reports every problem at once (errors.Join of [*KeyError]), each naming the file
// and the key: `config.toml: "log.segment.bytes": must be >= 14, got 3`. Unknown keys are
// errors (with a suggestion when a known key is close). [Config.Validate] reports the same
// checks with the prefix "config".
//
// # Topic configs
//
// [TopicConfigDefs] lists the topic-level configs streamd understands (Kafka's names,
// types and ranges). Their values are strings, as on the wire. A topic's effective
// settings are the broker defaults ([Config.TopicDefault]) overridden by the topic's own
// configs ([Config.ResolveTopic]). Invalid topic configs are [*TopicConfigError]s, which
// unwrap to kerr.InvalidConfig.
package config

import (
	"math"
	"path/filepath"
	"strings"
)

// Config is the broker configuration. Field tags are the keys in config.toml; the
// defaults are those of [Default] (and of the config.toml at the repository root).
//
// Build one with [Default] or [Load]; a Config is a value and is safe to copy. A Config
// built with Load remembers which keys its file set (see [Config.IsSet]).
type Config struct {
	// Network and server.
	Listeners             string `toml:"listeners"`
	AdvertisedListeners   string `toml:"advertised.listeners"`
	NodeID                int32  `toml:"node.id"`
	LogDirs               string `toml:"log.dirs"`
	SocketRequestMaxBytes int32  `toml:"socket.request.max.bytes"`
	ConnectionsMaxIdleMs  int64  `toml:"connections.max.idle.ms"`
	MessageMaxBytes       int32  `toml:"message.max.bytes"`
	FetchMaxBytes         int32  `toml:"fetch.max.bytes"`

	// Topics.
	NumPartitions               int32  `toml:"num.partitions"`
	DefaultReplicationFactor    int32  `toml:"default.replication.factor"`
	AutoCreateTopicsEnable      bool   `toml:"auto.create.topics.enable"`
	DeleteTopicEnable           bool   `toml:"delete.topic.enable"`
	MinInsyncReplicas           int32  `toml:"min.insync.replicas"`
	UncleanLeaderElectionEnable bool   `toml:"unclean.leader.election.enable"`
	CompressionType             string `toml:"compression.type"`

	// Log segments and indexes.
	LogSegmentBytes         int32 `toml:"log.segment.bytes"`
	LogRollMs               int64 `toml:"log.roll.ms"`
	LogRollHours            int32 `toml:"log.roll.hours"`
	LogRollJitterMs         int64 `toml:"log.roll.jitter.ms"`
	LogRollJitterHours      int32 `toml:"log.roll.jitter.hours"`
	LogIndexIntervalBytes   int32 `toml:"log.index.interval.bytes"`
	LogIndexSizeMaxBytes    int32 `toml:"log.index.size.max.bytes"`
	LogPreallocate          bool  `toml:"log.preallocate"`
	LogSegmentDeleteDelayMs int64 `toml:"log.segment.delete.delay.ms"`

	// Retention and cleanup.
	LogRetentionMs              int64  `toml:"log.retention.ms"`
	LogRetentionMinutes         int32  `toml:"log.retention.minutes"`
	LogRetentionHours           int32  `toml:"log.retention.hours"`
	LogRetentionBytes           int64  `toml:"log.retention.bytes"`
	LogRetentionCheckIntervalMs int64  `toml:"log.retention.check.interval.ms"`
	LogCleanupPolicy            string `toml:"log.cleanup.policy"`

	// Log cleaner (compaction).
	LogCleanerEnable              bool    `toml:"log.cleaner.enable"`
	LogCleanerDeleteRetentionMs   int64   `toml:"log.cleaner.delete.retention.ms"`
	LogCleanerMinCleanableRatio   float64 `toml:"log.cleaner.min.cleanable.ratio"`
	LogCleanerMinCompactionLagMs  int64   `toml:"log.cleaner.min.compaction.lag.ms"`
	LogCleanerMaxCompactionLagMs  int64   `toml:"log.cleaner.max.compaction.lag.ms"`
	LogCleanerIoMaxBytesPerSecond float64 `toml:"log.cleaner.io.max.bytes.per.second"`
	LogCleanerCPUMaxFraction      float64 `toml:"log.cleaner.cpu.max.fraction"`

	// Durability and flushing.
	LogFlushBeforeAck                  bool  `toml:"log.flush.before.ack"`
	LogDirectIO                        bool  `toml:"log.direct.io"`
	LogFlushIntervalMessages           int64 `toml:"log.flush.interval.messages"`
	LogFlushIntervalMs                 int64 `toml:"log.flush.interval.ms"`
	LogFlushOffsetCheckpointIntervalMs int32 `toml:"log.flush.offset.checkpoint.interval.ms"`

	// Record timestamps.
	LogMessageTimestampType            string `toml:"log.message.timestamp.type"`
	LogMessageTimestampDifferenceMaxMs int64  `toml:"log.message.timestamp.difference.max.ms"`
	LogMessageTimestampBeforeMaxMs     int64  `toml:"log.message.timestamp.before.max.ms"`
	LogMessageTimestampAfterMaxMs      int64  `toml:"log.message.timestamp.after.max.ms"`

	// Consumer groups and committed offsets.
	OffsetsTopicNumPartitions        int32  `toml:"offsets.topic.num.partitions"`
	OffsetsRetentionMinutes          int32  `toml:"offsets.retention.minutes"`
	OffsetsRetentionCheckIntervalMs  int64  `toml:"offsets.retention.check.interval.ms"`
	OffsetsTopicSegmentBytes         int32  `toml:"offsets.topic.segment.bytes"`
	GroupInitialRebalanceDelayMs     int32  `toml:"group.initial.rebalance.delay.ms"`
	GroupMinSessionTimeoutMs         int32  `toml:"group.min.session.timeout.ms"`
	GroupMaxSessionTimeoutMs         int32  `toml:"group.max.session.timeout.ms"`
	GroupMaxSize                     int32  `toml:"group.max.size"`
	GroupConsumerSessionTimeoutMs    int32  `toml:"group.consumer.session.timeout.ms"`
	GroupConsumerHeartbeatIntervalMs int32  `toml:"group.consumer.heartbeat.interval.ms"`
	GroupConsumerAssignors           string `toml:"group.consumer.assignors"`
	GroupConsumerMaxSize             int32  `toml:"group.consumer.max.size"`
	GroupAssignor                    string `toml:"group.assignor"`

	// Idempotent and transactional producers.
	TransactionMaxTimeoutMs     int32 `toml:"transaction.max.timeout.ms"`
	TransactionalIDExpirationMs int32 `toml:"transactional.id.expiration.ms"`
	ProducerIDExpirationMs      int32 `toml:"producer.id.expiration.ms"`

	Metadata MetadataConfig `toml:"metadata"`
	Admin    AdminConfig    `toml:"admin"`
	Plugins  PluginsConfig  `toml:"plugins"`

	// fileKeys lists the keys the loaded file set, each followed by "\n" ("" for
	// Default()). A string keeps Config comparable with ==.
	fileKeys string
}

// MetadataConfig is the [metadata] table: where cluster metadata (topics, ids, configs)
// is kept, a NATS JetStream KV bucket.
type MetadataConfig struct {
	// NatsURL is an external NATS server ("nats://host:4222", comma-separated for a
	// cluster); "" runs an embedded nats-server.
	NatsURL string `toml:"nats_url"`
	// StoreDir is the embedded server's JetStream directory; "" means <log.dirs>/nats.
	StoreDir string `toml:"store_dir"`
	// Bucket is the KV bucket name ([A-Za-z0-9_-]+).
	Bucket string `toml:"kv_bucket"`
	// Listen is a host:port where the embedded server also accepts other processes;
	// "" means in-process only.
	Listen string `toml:"listen"`
}

// AdminConfig is the [admin] table: the HTTP listener serving /metrics and /health.
type AdminConfig struct {
	// Listen is the HTTP host:port; "" disables the admin listener.
	Listen string `toml:"listen"`
}

// PluginsConfig is the [plugins] table: the registry of uploaded Wasm plugins (kept in a
// NATS JetStream object store beside the metadata) and the limits of the sandbox they
// run in. Compiled code is cached under <log.dirs>/plugin-cache.
type PluginsConfig struct {
	// Bucket is the object store bucket holding the modules ([A-Za-z0-9_-]+).
	Bucket string `toml:"bucket"`
	// MaxModuleBytes rejects larger uploads.
	MaxModuleBytes int64 `toml:"max_module_bytes"`
	// MemoryLimitBytes caps each plugin instance's linear memory.
	MemoryLimitBytes int64 `toml:"memory_limit_bytes"`
	// CallTimeoutMs bounds each call into a plugin (one batch of records).
	CallTimeoutMs int64 `toml:"call_timeout_ms"`
	// PoolSize is the number of instances per plugin, i.e. of concurrent calls.
	PoolSize int32 `toml:"pool_size"`
	// StartTimeoutMs bounds starting a plugin instance (its initialisation).
	StartTimeoutMs int64 `toml:"start_timeout_ms"`
	// AllowWallClock grants plugins the real clock (default: a fake, fixed clock).
	AllowWallClock bool `toml:"allow_wall_clock"`
	// AllowCryptoRandom grants plugins the host's crypto/rand (default: deterministic).
	AllowCryptoRandom bool `toml:"allow_crypto_random"`
	// Env is the environment plugins see, "KEY=VALUE" pairs separated by commas.
	Env string `toml:"env"`
}

// Default returns the default configuration. It equals what the config.toml at the
// repository root loads to.
func Default() Config {
	return Config{
		Listeners:             "0.0.0.0:9092",
		AdvertisedListeners:   "",
		NodeID:                0,
		LogDirs:               "./data",
		SocketRequestMaxBytes: 104857600,
		ConnectionsMaxIdleMs:  600000,
		MessageMaxBytes:       1048588,
		FetchMaxBytes:         57671680,

		NumPartitions:               1,
		DefaultReplicationFactor:    1,
		AutoCreateTopicsEnable:      true,
		DeleteTopicEnable:           true,
		MinInsyncReplicas:           1,
		UncleanLeaderElectionEnable: false,
		CompressionType:             "producer",

		LogSegmentBytes:         1073741824,
		LogRollMs:               0,
		LogRollHours:            168,
		LogRollJitterMs:         0,
		LogRollJitterHours:      0,
		LogIndexIntervalBytes:   4096,
		LogIndexSizeMaxBytes:    10485760,
		LogPreallocate:          false,
		LogSegmentDeleteDelayMs: 60000,

		LogRetentionMs:              0,
		LogRetentionMinutes:         0,
		LogRetentionHours:           168,
		LogRetentionBytes:           -1,
		LogRetentionCheckIntervalMs: 300000,
		LogCleanupPolicy:            "delete",

		LogCleanerEnable:              true,
		LogCleanerDeleteRetentionMs:   86400000,
		LogCleanerMinCleanableRatio:   0.5,
		LogCleanerMinCompactionLagMs:  0,
		LogCleanerMaxCompactionLagMs:  math.MaxInt64,
		LogCleanerIoMaxBytesPerSecond: math.MaxFloat64,
		LogCleanerCPUMaxFraction:      0.5,

		LogFlushBeforeAck:                  true,
		LogDirectIO:                        true,
		LogFlushIntervalMessages:           math.MaxInt64,
		LogFlushIntervalMs:                 1000,
		LogFlushOffsetCheckpointIntervalMs: 1000,

		LogMessageTimestampType:            "CreateTime",
		LogMessageTimestampDifferenceMaxMs: math.MaxInt64,
		LogMessageTimestampBeforeMaxMs:     math.MaxInt64,
		LogMessageTimestampAfterMaxMs:      3600000,

		OffsetsTopicNumPartitions:        50,
		OffsetsRetentionMinutes:          10080,
		OffsetsRetentionCheckIntervalMs:  600000,
		OffsetsTopicSegmentBytes:         104857600,
		GroupInitialRebalanceDelayMs:     3000,
		GroupMinSessionTimeoutMs:         6000,
		GroupMaxSessionTimeoutMs:         1800000,
		GroupMaxSize:                     math.MaxInt32,
		GroupConsumerSessionTimeoutMs:    45000,
		GroupConsumerHeartbeatIntervalMs: 5000,
		GroupConsumerAssignors:           "uniform,range",
		GroupConsumerMaxSize:             math.MaxInt32,

		TransactionMaxTimeoutMs:     900000,
		TransactionalIDExpirationMs: 604800000,
		ProducerIDExpirationMs:      86400000,

		Metadata: MetadataConfig{
			NatsURL:  "",
			StoreDir: "",
			Bucket:   "streamd_topics",
			Listen:   "",
		},
		Admin: AdminConfig{Listen: "127.0.0.1:9644"},
		Plugins: PluginsConfig{
			Bucket:           "streamd_plugins",
			MaxModuleBytes:   32 << 20,
			MemoryLimitBytes: 64 << 20,
			CallTimeoutMs:    1000,
			PoolSize:         4,
			StartTimeoutMs:   10000,
		},
	}
}

const (
	msPerMinute = 60 * 1000
	msPerHour   = 60 * msPerMinute
)

// ConsumerAssignors is group.consumer.assignors as a list (spaces trimmed).
func (c Config) ConsumerAssignors() []string {
	var out []string
	for a := range strings.SplitSeq(c.GroupConsumerAssignors, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// RetentionMs is the broker's default retention time in milliseconds, -1 for forever:
// log.retention.ms if set (non-zero), else log.retention.minutes if set, else
// log.retention.hours, as in Kafka. Any negative value means forever.
func (c Config) RetentionMs() int64 {
	var ms int64
	switch {
	case c.LogRetentionMs != 0:
		ms = c.LogRetentionMs
	case c.LogRetentionMinutes != 0:
		ms = int64(c.LogRetentionMinutes) * msPerMinute
	default:
		ms = int64(c.LogRetentionHours) * msPerHour
	}
	if ms < 0 {
		return -1
	}
	return ms
}

// RollMs is the broker's default segment age limit (segment.ms): log.roll.ms if set
// (non-zero), else log.roll.hours.
func (c Config) RollMs() int64 {
	if c.LogRollMs != 0 {
		return c.LogRollMs
	}
	return int64(c.LogRollHours) * msPerHour
}

// RollJitterMs is the broker's default segment.jitter.ms: log.roll.jitter.ms if set
// (non-zero), else log.roll.jitter.hours.
func (c Config) RollJitterMs() int64 {
	if c.LogRollJitterMs != 0 {
		return c.LogRollJitterMs
	}
	return int64(c.LogRollJitterHours) * msPerHour
}

// OffsetsRetentionMs is offsets.retention.minutes in milliseconds.
func (c Config) OffsetsRetentionMs() int64 {
	return int64(c.OffsetsRetentionMinutes) * msPerMinute
}

// MetadataStoreDir is the embedded NATS server's storage directory: [metadata]
// store_dir, or <log.dirs>/nats when that is empty.
func (c Config) MetadataStoreDir() string {
	if c.Metadata.StoreDir != "" {
		return c.Metadata.StoreDir
	}
	return filepath.Join(c.LogDirs, "nats")
}
