package config

import (
	"reflect"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConfigEntry is one config as DescribeConfigs reports it.
type ConfigEntry struct {
	Name  string
	Value string
	// Null marks a setting that has no value (Kafka reports null; Value is ""), e.g.
	// log.retention.ms when the retention is given in hours.
	Null bool
	// Source is a kmsg.ConfigSource: 1 DYNAMIC_TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG,
	// 5 DEFAULT_CONFIG.
	Source    int8
	Type      string // Kafka ConfigType name (see kmsg.ParseConfigType)
	Doc       string
	ReadOnly  bool // broker settings cannot be altered at run time
	Sensitive bool // streamd has no secret settings: always false
	// Synonyms lists where the value could come from, highest precedence first
	// (DescribeConfigs IncludeSynonyms).
	Synonyms []ConfigSynonym
}

// ConfigSynonym is one entry of [ConfigEntry.Synonyms].
type ConfigSynonym struct {
	Name   string
	Value  string
	Null   bool // no value (Kafka's null)
	Source int8
}

// ValuePtr is Value as DescribeConfigs encodes it: nil when Null.
func (e ConfigEntry) ValuePtr() *string { return strPtr(e.Value, e.Null) }

// ValuePtr is Value as DescribeConfigs encodes it: nil when Null.
func (s ConfigSynonym) ValuePtr() *string { return strPtr(s.Value, s.Null) }

func strPtr(v string, null bool) *string {
	if null {
		return nil
	}
	return &v
}

// BrokerConfigEntry is a config of the BROKER resource.
type BrokerConfigEntry = ConfigEntry

// BrokerConfigs lists every Kafka-named broker setting (the [metadata] and [admin]
// tables are not Kafka configs and are left out) in config.toml order, for
// DescribeConfigs on the BROKER resource. Source is STATIC_BROKER_CONFIG for settings
// that are set ([Config.IsSet]), DEFAULT_CONFIG otherwise. All are read-only.
func (c Config) BrokerConfigs() []BrokerConfigEntry {
	cv, dv := reflect.ValueOf(c), reflect.ValueOf(Default())
	var out []BrokerConfigEntry
	for _, s := range settings {
		if i := strings.IndexByte(s.key, '.'); i > 0 && sections[s.key[:i]] {
			continue
		}
		v, null := settingValue(s, cv)
		e := BrokerConfigEntry{
			Name:     s.key,
			Value:    v,
			Null:     null,
			Source:   int8(kmsg.ConfigSourceDefaultConfig),
			Type:     s.typ.String(),
			Doc:      s.doc,
			ReadOnly: true,
		}
		if c.IsSet(s.key) {
			e.Source = int8(kmsg.ConfigSourceStaticBrokerConfig)
			e.Synonyms = append(e.Synonyms, ConfigSynonym{Name: s.key, Value: e.Value, Null: e.Null, Source: e.Source})
		}
		if d, null := settingValue(s, dv); !null {
			e.Synonyms = append(e.Synonyms, ConfigSynonym{Name: s.key, Value: d, Source: int8(kmsg.ConfigSourceDefaultConfig)})
		}
		out = append(out, e)
	}
	return out
}

// TopicConfigs lists every topic config for DescribeConfigs on a TOPIC resource whose
// own configs are overrides: an override is reported as given, with source
// DYNAMIC_TOPIC_CONFIG; the others carry [Config.TopicDefault]'s value and source.
// Unknown names in overrides are ignored.
func (c Config) TopicConfigs(overrides map[string]string) []ConfigEntry {
	cv, dv := reflect.ValueOf(c), reflect.ValueOf(Default())
	out := make([]ConfigEntry, 0, len(topicDefs))
	for _, d := range topicDefs {
		e := ConfigEntry{Name: d.Name, Type: d.Type, Doc: d.Doc}
		if v, ok := overrides[d.Name]; ok {
			e.Value, e.Source = v, int8(kmsg.ConfigSourceDynamicTopicConfig)
			e.Synonyms = append(e.Synonyms, ConfigSynonym{Name: d.Name, Value: v, Source: e.Source})
		} else {
			e.Value, e.Source = c.TopicDefault(d.Name)
		}
		for _, k := range d.Synonyms {
			if c.IsSet(k) {
				v, null := settingValue(settingByKey[k], cv)
				e.Synonyms = append(e.Synonyms, ConfigSynonym{Name: k, Value: v, Null: null,
					Source: int8(kmsg.ConfigSourceStaticBrokerConfig)})
			}
		}
		if len(d.Synonyms) > 0 {
			last := settingByKey[d.Synonyms[len(d.Synonyms)-1]]
			if v, null := settingValue(last, dv); !null {
				e.Synonyms = append(e.Synonyms, ConfigSynonym{Name: last.key, Value: v, Source: int8(kmsg.ConfigSourceDefaultConfig)})
			}
		}
		out = append(out, e)
	}
	return out
}

// settingValue is s's value in cv as DescribeConfigs shows it; null when s is "not set".
func settingValue(s *setting, cv reflect.Value) (v string, null bool) {
	f := s.field(cv)
	if s.unsetZero && f.IsZero() {
		return "", true
	}
	return formatValue(f), false
}
