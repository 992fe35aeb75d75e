package meta

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Group configs (Kafka's GROUP config resource, e.g. group.assignor) live in the same
// bucket as the topics, one key per group that has any:
//
//	group "billing"  -> key "group.62696c6c696e67"
//
// ("group." and the hex of the group id; topic keys never contain a dot, so the two key
// spaces cannot meet). The value, schema version 1:
//
//	{"v": 1, "group": "billing", "configs": {"group.assignor": "range"}}
//
// A group whose last config is removed is a KV delete marker.

const groupKeyPrefix = "group."

func groupKey(group string) string { return groupKeyPrefix + hex.EncodeToString([]byte(group)) }

type groupValueV1 struct {
	V       int               `json:"v"`
	Group   string            `json:"group"`
	Configs map[string]string `json:"configs"`
}

// GroupConfigs returns the config overrides of every group that has any.
func (s *NATSStore) GroupConfigs(ctx context.Context) (map[string]map[string]string, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	out := map[string]map[string]string{}
	err := s.watchValues(ctx, groupKeyPrefix+"*", "list group configs", func(key string, data []byte) error {
		var v groupValueV1
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("meta: group configs under %q: value is not JSON: %w", key, err)
		}
		if v.V != valueVersion {
			return fmt.Errorf("meta: group configs under %q: unsupported value version %d (this build reads version %d)", key, v.V, valueVersion)
		}
		if groupKey(v.Group) != key {
			return fmt.Errorf("meta: key %q holds the configs of group %q", key, v.Group)
		}
		out[v.Group] = v.Configs
		return nil
	})
	return out, err
}

// PutGroupConfigs stores the config overrides of a group; an empty map removes them
// (removing configs a group does not have is not an error).
func (s *NATSStore) PutGroupConfigs(ctx context.Context, group string, configs map[string]string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if group == "" {
		return errors.New("meta: put group configs: empty group id")
	}
	key := groupKey(group)
	if len(configs) == 0 {
		if err := s.deleteKey(ctx, key); err != nil {
			return fmt.Errorf("meta: delete configs of group %q: %w", group, err)
		}
		return nil
	}
	val, err := json.Marshal(groupValueV1{V: valueVersion, Group: group, Configs: configs})
	if err != nil {
		return fmt.Errorf("meta: encode configs of group %q: %w", group, err)
	}
	if _, err := s.kv.Put(ctx, key, val); err != nil {
		return fmt.Errorf("meta: put configs of group %q: %w", group, err)
	}
	return nil
}

// watchValues calls fn with the key and value of every current (not deleted) entry whose
// key matches filter (a KV key pattern); the first error fn or the watch returns ends it.
func (s *NATSStore) watchValues(ctx context.Context, filter, what string, fn func(key string, value []byte) error) error {
	w, err := s.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	defer stopWatcher(w)
	var bad error
	for {
		select {
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return fmt.Errorf("meta: %s: watcher closed (connection lost)", what)
			case e == nil: // all current values delivered
				return bad
			default:
				if err := fn(e.Key(), e.Value()); err != nil {
					bad = firstErr(bad, err)
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("meta: %s: %w", what, ctx.Err())
		}
	}
}
