package broker

// Group configs (resource type GROUP, 32): only group.assignor, the broker-owned
// assignment strategy of one group (range | roundrobin | sticky | cooperative-sticky |
// uniform | wasm:NAME, an uploaded assignor plugin; unset = the leader member assigns,
// Kafka's classic behaviour). Set through
// IncrementalAlterConfigs (SET, DELETE) or AlterConfigs (the given set replaces the
// group's configs), read through DescribeConfigs (source GROUP_CONFIG when set,
// DEFAULT_CONFIG with a null value when not, STATIC_BROKER_CONFIG with the broker's
// group.assignor from config.toml when that is set). Settings are persisted in the
// metadata store beside the topics (core/meta, groups.go) on every change and read at
// start. Semantics of the assignment itself: core/group/assign.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wasmhost"
)

const (
	groupAssignorConfig = "group.assignor"
	// legacyGroupConfigsFile is where builds before the metadata store kept the
	// settings: <log.dirs>/group-configs.json, {"group": "strategy", ...}.
	legacyGroupConfigsFile = "group-configs.json"
)

// loadGroupConfigs installs the persisted group.assignor settings: those in the metadata
// store and, once, those of a legacy group-configs.json, which are moved into the store
// (the file is removed afterwards).
func (b *Broker) loadGroupConfigs(ctx context.Context) error {
	stored, err := b.meta.GroupConfigs(ctx)
	if err != nil {
		return err
	}
	m := map[string]string{}
	for g, c := range stored {
		if a := c[groupAssignorConfig]; a != "" {
			m[g] = a
		}
	}
	b.groupConfigsSaved = maps.Clone(m)
	legacy := filepath.Join(b.dir, legacyGroupConfigsFile)
	data, err := os.ReadFile(legacy)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		var old map[string]string
		if err := json.Unmarshal(data, &old); err != nil {
			return fmt.Errorf("%s: %w", legacy, err)
		}
		for g, a := range old {
			if _, ok := m[g]; !ok && a != "" {
				m[g] = a
			}
		}
		if err := b.storeGroupConfigs(ctx, m); err != nil {
			return err
		}
		if err := os.Remove(legacy); err != nil {
			return err
		}
		b.log.Info("moved group configs into the metadata store", "file", legacy, "groups", len(old))
	}
	if skipped := b.groups.LoadAssignors(m); len(skipped) > 0 {
		b.log.Warn("ignoring invalid persisted group.assignor settings", "groups", skipped)
	}
	return nil
}

// saveGroupConfigs is group.Config.SaveAssignors: it writes the groups whose setting
// changed to the metadata store.
func (b *Broker) saveGroupConfigs(m map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.storeGroupConfigs(ctx, m); err != nil {
		return kafkaErr(kerr.KafkaStorageError, "saving group configs: %v", err)
	}
	return nil
}

// storeGroupConfigs makes the metadata store hold m (group → group.assignor), writing
// only the groups that differ from groupConfigsSaved, which it keeps up to date. The
// coordinator serialises its calls (SaveAssignors), and start-up runs before it serves.
func (b *Broker) storeGroupConfigs(ctx context.Context, m map[string]string) error {
	for g, a := range m {
		if b.groupConfigsSaved[g] == a {
			continue
		}
		if err := b.meta.PutGroupConfigs(ctx, g, map[string]string{groupAssignorConfig: a}); err != nil {
			return err
		}
		b.groupConfigsSaved[g] = a
	}
	for g := range b.groupConfigsSaved {
		if _, ok := m[g]; ok {
			continue
		}
		if err := b.meta.PutGroupConfigs(ctx, g, nil); err != nil {
			return err
		}
		delete(b.groupConfigsSaved, g)
	}
	return nil
}

// partitionCount is group.Config.Partitions.
func (b *Broker) partitionCount(name string) int32 {
	if t := b.lookup(name); t != nil {
		return int32(len(t.parts))
	}
	return 0
}

// topicID is group.Config.TopicID.
func (b *Broker) topicID(name string) ([16]byte, bool) {
	if t := b.lookup(name); t != nil {
		return t.meta.ID, true
	}
	return [16]byte{}, false
}

// topicName is group.Config.TopicName.
func (b *Broker) topicName(id [16]byte) (string, bool) {
	if t := b.lookupID(id); t != nil {
		return t.meta.Name, true
	}
	return "", false
}

// topicNames is group.Config.Topics.
func (b *Broker) topicNames() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.topics))
	for name := range b.topics {
		out = append(out, name)
	}
	return out
}

// setGroupConfigs validates the group's next configs (as computed by apply from the
// current ones) and applies them unless validateOnly.
func (b *Broker) setGroupConfigs(_ context.Context, name string, apply func(cur map[string]*string) (map[string]*string, error), validateOnly bool) error {
	if name == "" {
		return kafkaErr(kerr.InvalidGroupID, "empty group id")
	}
	cur := map[string]*string{}
	if a := b.groups.Assignor(name); a != "" {
		cur[groupAssignorConfig] = &a
	}
	next, err := apply(cur)
	if err != nil {
		return err
	}
	value := ""
	for k, v := range next {
		if k != groupAssignorConfig {
			return kafkaErr(kerr.InvalidConfig, "unknown group config %q (streamd supports %s)", k, groupAssignorConfig)
		}
		if v != nil {
			value = *v
		}
	}
	if err := b.groups.CheckAssignor(value); err != nil {
		return kafkaErr(kerr.InvalidConfig, "invalid %s %q: %s", groupAssignorConfig, value, strings.TrimPrefix(err.Error(), "group: "))
	}
	if validateOnly {
		return nil
	}
	return b.attachPlugin(groupAssignorConfig, value, wasmhost.KindAssignor, func() error {
		return b.groups.SetAssignor(name, value)
	})
}

// incrementalGroupConfigs applies IncrementalAlterConfigs ops to a group's configs.
func incrementalGroupConfigs(ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) func(map[string]*string) (map[string]*string, error) {
	return func(cur map[string]*string) (map[string]*string, error) {
		for _, op := range ops {
			switch op.Op {
			case kmsg.IncrementalAlterConfigOpSet:
				cur[op.Name] = op.Value
			case kmsg.IncrementalAlterConfigOpDelete:
				delete(cur, op.Name)
				if op.Name != groupAssignorConfig {
					return nil, kafkaErr(kerr.InvalidConfig, "unknown group config %q", op.Name)
				}
			default:
				return nil, kafkaErr(kerr.InvalidConfig, "operation %v is not supported on %s", op.Op, op.Name)
			}
		}
		return cur, nil
	}
}

// describeGroupConfigs lists a group's configs for DescribeConfigs.
func (b *Broker) describeGroupConfigs(name string, names []string, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	if names != nil && !contains(names, groupAssignorConfig) {
		return nil
	}
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = groupAssignorConfig
	c.Source = kmsg.ConfigSourceDefaultConfig
	c.IsDefault = true
	c.ConfigType = kmsg.ConfigTypeString
	if d := b.groups.DefaultAssignor(); d != "" {
		c.Value, c.Source = &d, kmsg.ConfigSourceStaticBrokerConfig // the broker's group.assignor
	}
	if a := b.groups.Assignor(name); a != "" {
		c.Value, c.Source, c.IsDefault = &a, kmsg.ConfigSourceGroupConfig, false
	}
	if docs {
		c.Documentation = ptrStr("Broker-owned partition assignment strategy of the group: range, roundrobin, sticky, cooperative-sticky, uniform or wasm:NAME (an uploaded assignor plugin); unset: the broker's group.assignor, else the group leader assigns (KIP-848 members choose).")
	}
	return []kmsg.DescribeConfigsResponseResourceConfig{c}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
