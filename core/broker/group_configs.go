package broker

// Group configs (resource type GROUP, 32): only group.assignor, the broker-owned
// assignment strategy of one group (range | roundrobin | sticky | cooperative-sticky |
// uniform | wasm:NAME, an uploaded assignor plugin; unset = the leader member assigns,
// Kafka's classic behaviour). Set through
// IncrementalAlterConfigs (SET, DELETE) or AlterConfigs (the given set replaces the
// group's configs), read through DescribeConfigs (source GROUP_CONFIG when set,
// DEFAULT_CONFIG with a null value when not, STATIC_BROKER_CONFIG with the broker's
// group.assignor from config.toml when that is set). Settings are persisted in
// <log.dirs>/group-configs.json, a JSON object {"group": "strategy", ...} rewritten
// atomically (temp file + rename) on every change and read at start. Semantics of the
// assignment itself: core/group/assign.go.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wasmhost"
)

const (
	groupAssignorConfig = "group.assignor"
	groupConfigsFile    = "group-configs.json"
)

func (b *Broker) groupConfigsPath() string { return filepath.Join(b.dir, groupConfigsFile) }

// loadGroupConfigs reads the persisted group.assignor settings (a missing file is empty).
func (b *Broker) loadGroupConfigs() error {
	data, err := os.ReadFile(b.groupConfigsPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if skipped := b.groups.LoadAssignors(m); len(skipped) > 0 {
		b.log.Warn("ignoring invalid persisted group.assignor settings", "groups", skipped)
	}
	return nil
}

// saveGroupConfigs writes every group.assignor setting atomically.
func (b *Broker) saveGroupConfigs(m map[string]string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := b.groupConfigsPath() + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, b.groupConfigsPath())
	}
	if err != nil {
		_ = os.Remove(tmp)
		return kafkaErr(kerr.KafkaStorageError, "saving group configs: %v", err)
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
