package config

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func entryByName(es []ConfigEntry, name string) (ConfigEntry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return ConfigEntry{}, false
}

func shown(v string, null bool) string {
	if null {
		return "<null>"
	}
	return v
}

func TestBrokerConfigs(t *testing.T) {
	c, err := Load(writeConfig(t, `
"log.segment.bytes" = 1048576
"log.retention.minutes" = 30
[metadata]
kv_bucket = "b"
`))
	if err != nil {
		t.Fatal(err)
	}
	es := c.BrokerConfigs()
	static, def := int8(kmsg.ConfigSourceStaticBrokerConfig), int8(kmsg.ConfigSourceDefaultConfig)
	for _, tc := range []struct {
		name, value, typ string
		src              int8
	}{
		{"log.segment.bytes", "1048576", "INT", static},
		{"log.retention.minutes", "30", "INT", static},
		{"log.retention.ms", "<null>", "LONG", def},
		{"log.retention.hours", "168", "INT", def},
		{"listeners", "0.0.0.0:9092", "LIST", def},
		{"log.cleanup.policy", "delete", "LIST", def},
		{"log.cleaner.min.cleanable.ratio", "0.5", "DOUBLE", def},
		{"auto.create.topics.enable", "true", "BOOLEAN", def},
		{"log.flush.before.ack", "true", "BOOLEAN", def},
	} {
		e, ok := entryByName(es, tc.name)
		if !ok {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if shown(e.Value, e.Null) != tc.value || e.Type != tc.typ || e.Source != tc.src || !e.ReadOnly || e.Sensitive || e.Doc == "" {
			t.Errorf("%s = %+v (value %s), want %s %s source %d", tc.name, e, shown(e.Value, e.Null), tc.value, tc.typ, tc.src)
		}
	}
	for _, e := range es {
		if strings.HasPrefix(e.Name, "metadata.") || strings.HasPrefix(e.Name, "admin.") || strings.HasPrefix(e.Name, "plugins.") {
			t.Errorf("non-Kafka setting %s listed", e.Name)
		}
	}
	kafkaKeys := 0
	for _, k := range Keys() {
		if !strings.HasPrefix(k, "metadata.") && !strings.HasPrefix(k, "admin.") && !strings.HasPrefix(k, "plugins.") {
			kafkaKeys++
		}
	}
	if want := kafkaKeys; len(es) != want {
		t.Errorf("%d broker configs, want %d", len(es), want)
	}
	if rms, _ := entryByName(es, "log.retention.ms"); rms.ValuePtr() != nil {
		t.Errorf("log.retention.ms ValuePtr = %q, want nil (null)", *rms.ValuePtr())
	}
	seg, _ := entryByName(es, "log.segment.bytes")
	if p := seg.ValuePtr(); p == nil || *p != "1048576" {
		t.Errorf("log.segment.bytes ValuePtr = %v", p)
	}
	if len(seg.Synonyms) != 2 || seg.Synonyms[0].Source != static || seg.Synonyms[1].Value != "1073741824" || seg.Synonyms[1].Source != def {
		t.Errorf("log.segment.bytes synonyms %+v", seg.Synonyms)
	}
}

func TestTopicConfigs(t *testing.T) {
	c, err := Load(writeConfig(t, `"log.retention.hours" = 24`))
	if err != nil {
		t.Fatal(err)
	}
	es := c.TopicConfigs(map[string]string{"segment.bytes": "1000", "ignored.unknown": "x"})
	if len(es) != len(TopicConfigDefs()) {
		t.Fatalf("%d entries", len(es))
	}
	seg, _ := entryByName(es, "segment.bytes")
	if seg.Value != "1000" || seg.Source != int8(kmsg.ConfigSourceDynamicTopicConfig) || seg.ReadOnly || seg.Type != "INT" {
		t.Errorf("segment.bytes = %+v", seg)
	}
	if len(seg.Synonyms) != 2 || seg.Synonyms[0].Name != "segment.bytes" || seg.Synonyms[1].Name != "log.segment.bytes" {
		t.Errorf("segment.bytes synonyms %+v", seg.Synonyms)
	}
	ret, _ := entryByName(es, "retention.ms")
	if ret.Value != "86400000" || ret.Source != int8(kmsg.ConfigSourceStaticBrokerConfig) {
		t.Errorf("retention.ms = %+v", ret)
	}
	var syn []string
	for _, s := range ret.Synonyms {
		syn = append(syn, s.Name+"="+shown(s.Value, s.Null)+"/"+kmsg.ConfigSource(s.Source).String())
	}
	if got, want := strings.Join(syn, " "), "log.retention.hours=24/STATIC_BROKER_CONFIG log.retention.hours=168/DEFAULT_CONFIG"; got != want {
		t.Errorf("retention.ms synonyms %s, want %s", got, want)
	}
}
