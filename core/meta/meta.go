// Package meta is the cluster-metadata store of streamd: the set of topics with their ids,
// partition leader epochs and topic-level config overrides, and the config overrides of
// consumer groups (see groups.go for their keys and values).
//
// The only implementation, [NATSStore], keeps the metadata in a NATS JetStream key-value
// bucket. By default [Open] starts an embedded nats-server with JetStream file storage
// under [Options.StoreDir], reachable only in-process (no TCP listener) unless
// [Options.ListenEmbedded] is set; with [Options.NatsURL] it connects to an external NATS
// server (or cluster) instead. The broker is the only writer of the store.
//
// # Bucket
//
// One KV bucket, default name "streamd_topics" ([DefaultBucket]), is created on first use
// with file storage, one replica and a history of [BucketHistory] revisions per key (so an
// operator can inspect recent changes with `nats kv history`). An existing bucket is used
// as it is.
//
// # Keys
//
// A Kafka topic name may contain characters ('.' at either end, "..") that are not legal in
// a KV key, so the key of a topic is the lower-case hex encoding of the bytes of its name:
//
//	topic "orders"   -> key "6f7264657273"
//	topic "a..b"     -> key "612e2e62"
//
// Hex only uses [0-9a-f], which is always a valid key; a 249-character name gives a
// 498-character key. The name inside the value must equal the decoded key.
//
// # Values
//
// A value is one JSON object. Field "v" is the schema version; readers reject versions
// they do not know rather than guess. Version 1:
//
//	{
//	  "v": 1,
//	  "name": "orders",                      // topic name, equal to the decoded key
//	  "id": "q1Zq2lNjQ9eSSh2bZ6d2uA",         // topic UUID, Kafka's text form:
//	                                          // base64url of the 16 bytes, no padding
//	  "partitions": [{"leader_epoch": 0}],   // one entry per partition, index = partition
//	  "configs": {"retention.ms": "60000"},  // topic-level overrides only; omitted if none
//	  "internal": false,                     // omitted when false
//	  "created_at": "2025-01-02T03:04:05.123456789Z"  // RFC 3339, UTC
//	}
//
// A deleted topic is a KV delete marker; listing ignores markers. Topic keys are single
// tokens; group configs use keys "group.<hex>" (groups.go), which topic listing skips.
package meta

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// DefaultBucket is the KV bucket used when [Options.Bucket] is empty.
const DefaultBucket = "streamd_topics"

// BucketHistory is the number of revisions per key kept by a bucket that [Open] creates.
const BucketHistory = 5

// MaxTopicNameLen is Kafka's limit on the length of a topic name.
const MaxTopicNameLen = 249

// ErrClosed is returned by the methods of a [NATSStore] after Close.
var ErrClosed = errors.New("meta: store closed")

// PartitionMeta is the stored state of one partition.
type PartitionMeta struct {
	LeaderEpoch int32
}

// Topic is the stored metadata of one topic.
type Topic struct {
	Name       string
	ID         [16]byte        // topic UUID (random v4), assigned by the broker at creation
	Partitions []PartitionMeta // len = partition count
	Configs    map[string]string
	Internal   bool
	CreatedAt  time.Time
}

// Store persists topic metadata. Implementations are safe for concurrent use.
type Store interface {
	// Topics returns all topics, sorted by name.
	Topics(ctx context.Context) ([]Topic, error)
	// PutTopic creates or replaces the topic t.Name.
	PutTopic(ctx context.Context, t Topic) error
	// DeleteTopic removes a topic; deleting an absent topic is not an error.
	DeleteTopic(ctx context.Context, name string) error
	// GroupConfigs returns the config overrides (GROUP config resource) of every group
	// that has any.
	GroupConfigs(ctx context.Context) (map[string]map[string]string, error)
	// PutGroupConfigs replaces a group's config overrides; an empty map removes them.
	PutGroupConfigs(ctx context.Context, group string, configs map[string]string) error
	Close() error
}

// ValidateTopicName reports whether name is a legal Kafka topic name: 1 to 249
// characters from [a-zA-Z0-9._-], and neither "." nor "..".
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("meta: invalid topic name: empty")
	case name == "." || name == "..":
		return fmt.Errorf("meta: invalid topic name %q: \".\" and \"..\" are not allowed", name)
	case len(name) > MaxTopicNameLen:
		return fmt.Errorf("meta: invalid topic name: %d characters, the maximum is %d", len(name), MaxTopicNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("meta: invalid topic name %q: illegal character %q (allowed: [a-zA-Z0-9._-])", name, c)
		}
	}
	return nil
}

// NewTopicID returns a random (version 4) topic UUID. Like Kafka it never returns the
// zero id and never an id whose text form starts with '-' (which would read as a flag on
// a command line).
func NewTopicID() [16]byte {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:])   // never fails (crypto/rand contract)
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		if id[0]>>2 != 62 {       // 62 is '-' in the base64url alphabet
			return id
		}
	}
}

// formatTopicID is Kafka's text form of a UUID: base64url without padding (22 chars).
func formatTopicID(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func parseTopicID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("meta: invalid topic id %q", s)
	}
	copy(id[:], b)
	return id, nil
}
