package broker

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/config"
)

// describeTopicConfigs lists a topic's configs (all, or only names) with their value,
// source and, on request, synonyms and documentation.
func (b *Broker) describeTopicConfigs(t *topic, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	return toDescribed(b.cfg.TopicConfigs(t.meta.Configs), names, synonyms, docs)
}

// describeBrokerConfigs lists the static broker settings.
func (b *Broker) describeBrokerConfigs(names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	return toDescribed(b.cfg.BrokerConfigs(), names, synonyms, docs)
}

func toDescribed(entries []config.ConfigEntry, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, e := range entries {
		if names != nil && !slices.Contains(names, e.Name) {
			continue
		}
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name = e.Name
		rc.Value = e.ValuePtr()
		rc.ReadOnly = e.ReadOnly
		rc.Source = kmsg.ConfigSource(e.Source)
		rc.IsDefault = rc.Source == kmsg.ConfigSourceDefaultConfig
		rc.IsSensitive = e.Sensitive
		rc.ConfigType = configType(e.Type)
		if docs && e.Doc != "" {
			d := e.Doc
			rc.Documentation = &d
		}
		if synonyms {
			for _, sy := range e.Synonyms {
				s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				s.Name, s.Value, s.Source = sy.Name, sy.ValuePtr(), kmsg.ConfigSource(sy.Source)
				rc.ConfigSynonyms = append(rc.ConfigSynonyms, s)
			}
		}
		out = append(out, rc)
	}
	return out
}

func configType(s string) kmsg.ConfigType {
	t, err := kmsg.ParseConfigType(strings.ToLower(s))
	if err != nil {
		return kmsg.ConfigTypeUnknown
	}
	return t
}

// isThisBroker reports whether a BROKER resource name addresses this node.
func (b *Broker) isThisBroker(name string) bool {
	return name == "" || name == strconv.Itoa(int(b.nodeID))
}

// brokerConfigsReadOnly is the error for attempts to change broker configs at runtime.
func brokerConfigsReadOnly() error {
	return kafkaErr(kerr.InvalidRequest, "broker configs are static in streamd: change config.toml and restart")
}

// applyIncremental applies incremental config ops to a copy of current.
func applyIncremental(current map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	next := maps.Clone(current)
	if next == nil {
		next = map[string]string{}
	}
	for _, op := range ops {
		def, ok := topicConfigDef(op.Name)
		if !ok {
			return nil, kafkaErr(kerr.InvalidConfig, "unknown topic config %q", op.Name)
		}
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if op.Value == nil {
				return nil, kafkaErr(kerr.InvalidConfig, "config %q: SET needs a value", op.Name)
			}
			next[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if !strings.EqualFold(def.Type, "LIST") {
				return nil, kafkaErr(kerr.InvalidConfig, "config %q is not a list: APPEND and SUBTRACT apply to lists only", op.Name)
			}
			if op.Value == nil {
				return nil, kafkaErr(kerr.InvalidConfig, "config %q: APPEND/SUBTRACT need a value", op.Name)
			}
			cur, ok := next[op.Name]
			if !ok {
				cur = ""
			}
			items := splitList(cur)
			for _, v := range splitList(*op.Value) {
				has := slices.Contains(items, v)
				if op.Op == kmsg.IncrementalAlterConfigOpAppend && !has {
					items = append(items, v)
				} else if op.Op == kmsg.IncrementalAlterConfigOpSubtract && has {
					items = slices.DeleteFunc(items, func(s string) bool { return s == v })
				}
			}
			next[op.Name] = strings.Join(items, ",")
		default:
			return nil, kafkaErr(kerr.InvalidRequest, "config %q: unknown operation %d", op.Name, op.Op)
		}
	}
	return next, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func topicConfigDef(name string) (config.TopicConfigDef, bool) {
	return config.LookupTopicConfig(name)
}
