package meta

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// valueVersion is the schema version written into every value (field "v").
const valueVersion = 1

// topicKey is the KV key of a topic: the hex encoding of its name (see the package doc).
func topicKey(name string) string { return hex.EncodeToString([]byte(name)) }

// topicNameFromKey reverses topicKey.
func topicNameFromKey(key string) (string, error) {
	b, err := hex.DecodeString(key)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("meta: key %q is not a hex-encoded topic name", key)
	}
	return string(b), nil
}

// topicValueV1 is the JSON value, schema version 1 (documented in the package comment).
type topicValueV1 struct {
	V          int                `json:"v"`
	Name       string             `json:"name"`
	ID         string             `json:"id"`
	Partitions []partitionValueV1 `json:"partitions"`
	Configs    map[string]string  `json:"configs,omitempty"`
	Internal   bool               `json:"internal,omitempty"`
	CreatedAt  time.Time          `json:"created_at"`
}

type partitionValueV1 struct {
	LeaderEpoch int32 `json:"leader_epoch"`
}

func encodeTopic(t Topic) ([]byte, error) {
	v := topicValueV1{
		V:          valueVersion,
		Name:       t.Name,
		ID:         formatTopicID(t.ID),
		Partitions: make([]partitionValueV1, len(t.Partitions)),
		Configs:    t.Configs,
		Internal:   t.Internal,
		CreatedAt:  t.CreatedAt.UTC(),
	}
	for i, p := range t.Partitions {
		v.Partitions[i] = partitionValueV1{LeaderEpoch: p.LeaderEpoch}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("meta: encode topic %q: %w", t.Name, err)
	}
	return b, nil
}

// decodeTopic decodes the value stored under key.
func decodeTopic(key string, data []byte) (Topic, error) {
	name, err := topicNameFromKey(key)
	if err != nil {
		return Topic{}, err
	}
	var head struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Topic{}, fmt.Errorf("meta: topic %q: value is not JSON: %w", name, err)
	}
	if head.V != valueVersion {
		return Topic{}, fmt.Errorf("meta: topic %q: unsupported value version %d (this build reads version %d)", name, head.V, valueVersion)
	}
	var v topicValueV1
	if err := json.Unmarshal(data, &v); err != nil {
		return Topic{}, fmt.Errorf("meta: topic %q: bad version %d value: %w", name, valueVersion, err)
	}
	if v.Name != name {
		return Topic{}, fmt.Errorf("meta: key %q is topic %q but its value names %q", key, name, v.Name)
	}
	id, err := parseTopicID(v.ID)
	if err != nil {
		return Topic{}, fmt.Errorf("meta: topic %q: %w", name, err)
	}
	t := Topic{
		Name:       name,
		ID:         id,
		Partitions: make([]PartitionMeta, len(v.Partitions)),
		Configs:    v.Configs,
		Internal:   v.Internal,
		CreatedAt:  v.CreatedAt,
	}
	for i, p := range v.Partitions {
		t.Partitions[i] = PartitionMeta{LeaderEpoch: p.LeaderEpoch}
	}
	return t, nil
}
