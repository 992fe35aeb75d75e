package config

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestValidateTopicConfig(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        string // "" = valid
	}{
		{"cleanup.policy", "delete", ""},
		{"cleanup.policy", "compact", ""},
		{"cleanup.policy", "compact,delete", ""},
		{"cleanup.policy", "delete, compact", ""},
		{"cleanup.policy", "", `config: topic config "cleanup.policy": must be delete, compact or "compact,delete"; got ""`},
		{"cleanup.policy", "compact,remove", `config: topic config "cleanup.policy": must be delete, compact or "compact,delete"; got "compact,remove"`},
		{"compression.type", "zstd", ""},
		{"compression.type", "producer", ""},
		{"compression.type", "uncompressed", ""},
		{"compression.type", "none", `config: topic config "compression.type": must be one of uncompressed, zstd, lz4, snappy, gzip, producer; got "none"`},
		{"compression.type", "GZIP", `must be one of`},
		{"segment.bytes", "14", ""},
		{"segment.bytes", " 1048576 ", ""},
		{"segment.bytes", "13", `config: topic config "segment.bytes": must be >= 14, got 13`},
		{"segment.bytes", "abc", `config: topic config "segment.bytes": must be a 32-bit integer, got "abc"`},
		{"segment.bytes", "2147483648", `must be a 32-bit integer, got "2147483648"`},
		{"segment.ms", "0", `config: topic config "segment.ms": must be >= 1, got 0`},
		{"segment.index.bytes", "3", `must be >= 4, got 3`},
		{"segment.jitter.ms", "-1", `must be >= 0, got -1`},
		{"max.message.bytes", "0", ""},
		{"max.message.bytes", "-1", `config: topic config "max.message.bytes": must be >= 0, got -1`},
		{"retention.ms", "-1", ""},
		{"retention.ms", "0", ""},
		{"retention.ms", "-2", `config: topic config "retention.ms": must be >= -1, got -2`},
		{"retention.ms", "1.5", `must be a 64-bit integer, got "1.5"`},
		{"retention.bytes", "-1", ""},
		{"retention.bytes", "9223372036854775807", ""},
		{"retention.bytes", "9223372036854775808", `must be a 64-bit integer`},
		{"message.timestamp.type", "LogAppendTime", ""},
		{"message.timestamp.type", "CreateTime", ""},
		{"message.timestamp.type", "logappendtime", `config: topic config "message.timestamp.type": must be one of CreateTime, LogAppendTime; got "logappendtime"`},
		{"message.timestamp.before.max.ms", "0", ""},
		{"message.timestamp.after.max.ms", "-1", `must be >= 0, got -1`},
		{"message.timestamp.difference.max.ms", "1000", ""},
		{"min.cleanable.dirty.ratio", "0", ""},
		{"min.cleanable.dirty.ratio", "1", ""},
		{"min.cleanable.dirty.ratio", "0.25", ""},
		{"min.cleanable.dirty.ratio", "1.01", `config: topic config "min.cleanable.dirty.ratio": must be between 0 and 1, got 1.01`},
		{"min.cleanable.dirty.ratio", "NaN", `must be between 0 and 1`},
		{"min.insync.replicas", "0", `must be >= 1, got 0`},
		{"flush.messages", "0", `must be >= 1, got 0`},
		{"flush.ms", "0", ""},
		{"delete.retention.ms", "-1", `must be >= 0, got -1`},
		{"file.delete.delay.ms", "0", ""},
		{"index.interval.bytes", "-1", `must be >= 0, got -1`},
		{"min.compaction.lag.ms", "0", ""},
		{"max.compaction.lag.ms", "0", `must be >= 1, got 0`},
		{"preallocate", "TRUE", ""},
		{"preallocate", "yes", `config: topic config "preallocate": must be true or false, got "yes"`},
		{"unclean.leader.election.enable", "false", ""},
		{"retention.mss", "1", `config: unknown topic config "retention.mss"`},
		{"message.downconversion.enable", "true", `config: unknown topic config "message.downconversion.enable"`},
	} {
		err := ValidateTopicConfig(tc.name, tc.value)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s=%q: unexpected error %v", tc.name, tc.value, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s=%q: error %v, want %q", tc.name, tc.value, err, tc.want)
		case err != nil && !errors.Is(err, kerr.InvalidConfig):
			t.Errorf("%s=%q: %v does not unwrap to kerr.InvalidConfig", tc.name, tc.value, err)
		}
	}
}

func TestTopicConfigDefs(t *testing.T) {
	defs := TopicConfigDefs()
	if len(defs) != 26 {
		t.Errorf("%d topic configs, want 26", len(defs))
	}
	c := Default()
	for i, d := range defs {
		if i > 0 && defs[i-1].Name >= d.Name {
			t.Errorf("not sorted: %s before %s", defs[i-1].Name, d.Name)
		}
		if _, err := kmsg.ParseConfigType(d.Type); err != nil || d.ConfigType() == kmsg.ConfigTypeUnknown {
			t.Errorf("%s: type %q", d.Name, d.Type)
		}
		if d.Doc == "" || d.BrokerSynonym == "" && len(d.Synonyms) != 0 || d.BrokerSynonym != "" && d.BrokerSynonym != d.Synonyms[0] {
			t.Errorf("%s: doc %q synonyms %v / %q", d.Name, d.Doc, d.Synonyms, d.BrokerSynonym)
		}
		// The broker default is a valid value of the topic config.
		v, src := c.TopicDefault(d.Name)
		if err := ValidateTopicConfig(d.Name, v); err != nil {
			t.Errorf("default %s=%q invalid: %v", d.Name, v, err)
		}
		if src != int8(kmsg.ConfigSourceDefaultConfig) {
			t.Errorf("%s: source %d with Default()", d.Name, src)
		}
		if l, ok := LookupTopicConfig(d.Name); !ok || !reflect.DeepEqual(l, d) {
			t.Errorf("LookupTopicConfig(%s) = %+v %v", d.Name, l, ok)
		}
	}
	defs[0].Synonyms[0] = "mutated"
	if TopicConfigDefs()[0].Synonyms[0] == "mutated" {
		t.Error("TopicConfigDefs shares its slices")
	}
	if _, ok := LookupTopicConfig("nope"); ok {
		t.Error("LookupTopicConfig(nope) found")
	}
}

// A broker setting and the topic config it is the default of accept the same values.
func TestBrokerAndTopicRangesAgree(t *testing.T) {
	for _, tc := range []struct {
		key   string
		set   func(*Config)
		topic string
		value string
	}{
		{"log.segment.bytes", func(c *Config) { c.LogSegmentBytes = 13 }, "segment.bytes", "13"},
		{"message.max.bytes", func(c *Config) { c.MessageMaxBytes = -1 }, "max.message.bytes", "-1"},
		{"log.cleaner.min.cleanable.ratio", func(c *Config) { c.LogCleanerMinCleanableRatio = 2 }, "min.cleanable.dirty.ratio", "2"},
		{"log.flush.interval.messages", func(c *Config) { c.LogFlushIntervalMessages = 0 }, "flush.messages", "0"},
		{"log.index.size.max.bytes", func(c *Config) { c.LogIndexSizeMaxBytes = 3 }, "segment.index.bytes", "3"},
	} {
		c := Default()
		tc.set(&c)
		berr, terr := c.Validate(), ValidateTopicConfig(tc.topic, tc.value)
		if berr == nil || terr == nil {
			t.Errorf("%s: broker %v, topic %v", tc.key, berr, terr)
			continue
		}
		bp := berr.Error()[strings.Index(berr.Error(), `": `)+3:]
		tp := terr.Error()[strings.Index(terr.Error(), `": `)+3:]
		if bp != tp {
			t.Errorf("%s: broker says %q, topic says %q", tc.key, bp, tp)
		}
	}
}

func TestTopicDefaultSource(t *testing.T) {
	c, err := Load(writeConfig(t, `
"log.retention.hours" = 24
"log.segment.bytes" = 1048576
"log.roll.ms" = 0                 # 0 = not set: does not count
"compression.type" = "producer"   # the default, but set in the file
`))
	if err != nil {
		t.Fatal(err)
	}
	static, def := int8(kmsg.ConfigSourceStaticBrokerConfig), int8(kmsg.ConfigSourceDefaultConfig)
	for _, tc := range []struct {
		name  string
		value string
		src   int8
	}{
		{"retention.ms", "86400000", static},
		{"segment.bytes", "1048576", static},
		{"compression.type", "producer", def}, // given in the file, but with the default value
		{"segment.ms", "604800000", def},
		{"retention.bytes", "-1", def},
		{"cleanup.policy", "delete", def},
		{"min.cleanable.dirty.ratio", "0.5", def},
		{"max.compaction.lag.ms", "9223372036854775807", def},
		{"flush.ms", "1000", def},
		{"message.timestamp.after.max.ms", "3600000", def},
		{"nope", "", int8(kmsg.ConfigSourceUnknown)},
	} {
		v, src := c.TopicDefault(tc.name)
		if v != tc.value || src != tc.src {
			t.Errorf("TopicDefault(%s) = %q, %d; want %q, %d", tc.name, v, src, tc.value, tc.src)
		}
	}
}

func TestResolveTopicDefaults(t *testing.T) {
	got, err := Default().ResolveTopic(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := TopicSettings{
		CleanupPolicy: "delete", Delete: true,
		MaxMessageBytes: 1048588, SegmentBytes: 1 << 30, SegmentMs: 7 * 24 * 3600000,
		SegmentIndexBytes: 10 << 20, IndexIntervalBytes: 4096, FileDeleteDelayMs: 60000,
		RetentionMs: 7 * 24 * 3600000, RetentionBytes: -1,
		TimestampType: "CreateTime", TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: 3600000,
		DeleteRetentionMs: 86400000, MaxCompactionLagMs: math.MaxInt64, MinCleanableDirtyRatio: 0.5,
		MinInsyncReplicas: 1, CompressionType: "producer",
		FlushMessages: math.MaxInt64, FlushMs: 1000,
		Partitioner: "murmur2",
	}
	if got != want {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestResolveTopicOverrides(t *testing.T) {
	c := Default()
	c.LogRetentionHours = 1
	c.LogSegmentBytes = 4096
	got, err := c.ResolveTopic(map[string]string{
		"cleanup.policy":                      "delete,compact",
		"retention.ms":                        "-1",
		"segment.ms":                          "60000",
		"max.message.bytes":                   "2048",
		"message.timestamp.type":              "LogAppendTime",
		"message.timestamp.difference.max.ms": "5000",
		"message.timestamp.after.max.ms":      "1000",
		"min.compaction.lag.ms":               "10",
		"compression.type":                    "zstd",
		"preallocate":                         "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c.ResolveTopic(nil)
	if want.RetentionMs != 3600000 || want.SegmentBytes != 4096 {
		t.Fatalf("broker defaults not applied: %+v", want)
	}
	want.CleanupPolicy, want.Compact, want.Delete = "compact,delete", true, true
	want.RetentionMs = -1
	want.SegmentMs = 60000
	want.MaxMessageBytes = 2048
	want.TimestampType = "LogAppendTime"
	want.TimestampBeforeMaxMs = 5000 // lowered by the deprecated difference
	want.TimestampAfterMaxMs = 1000  // already below it
	want.MinCompactionLagMs = 10
	want.CompressionType = "zstd"
	want.Preallocate = true
	if got != want {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}

	compact, err := c.ResolveTopic(map[string]string{"cleanup.policy": "compact"})
	if err != nil || !compact.Compact || compact.Delete || compact.CleanupPolicy != "compact" {
		t.Errorf("compact: %+v %v", compact, err)
	}
}

func TestResolveTopicErrors(t *testing.T) {
	_, err := Default().ResolveTopic(map[string]string{
		"segment.bytes": "1",
		"retention.ms":  "x",
		"bogus":         "1",
	})
	want := strings.Join([]string{
		`config: unknown topic config "bogus"`,
		`config: topic config "retention.ms": must be a 64-bit integer, got "x"`,
		`config: topic config "segment.bytes": must be >= 14, got 1`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, kerr.InvalidConfig) {
		t.Error("not kerr.InvalidConfig")
	}

	_, err = Default().ResolveTopic(map[string]string{"min.compaction.lag.ms": "100", "max.compaction.lag.ms": "50"})
	if err == nil || !strings.Contains(err.Error(), `"min.compaction.lag.ms": min.compaction.lag.ms (100) must not be greater than max.compaction.lag.ms (50)`) {
		t.Errorf("lag conflict: %v", err)
	}
}

func TestPartitionerConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, value, problem string
	}{
		{"partitioner", "murmur2", ""},
		{"partitioner", " sticky ", ""},
		{"partitioner", "wasm:tenant-v2.x", ""},
		{"partitioner", "wasm:", `invalid plugin name ""`},
		{"partitioner", "wasm:-x", "starting with a letter or digit"},
		{"partitioner", "wasm:a/b", "use [A-Za-z0-9._-]"},
		{"partitioner", "fnv", `or wasm:NAME; got "fnv"`},
		{"partitioner.enforce", "TRUE", ""},
		{"partitioner.enforce", "yes", "must be true or false"},
	} {
		err := ValidateTopicConfig(tc.name, tc.value)
		if tc.problem == "" && err != nil || tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)) {
			t.Errorf("%s=%q: %v, want problem %q", tc.name, tc.value, err, tc.problem)
		}
	}
	s, err := Default().ResolveTopic(map[string]string{"partitioner": "wasm:tenant", "partitioner.enforce": "true"})
	if err != nil || s.Partitioner != "wasm:tenant" || !s.PartitionerEnforce {
		t.Errorf("resolve: %+v %v", s, err)
	}
	_, err = Default().ResolveTopic(map[string]string{"partitioner": "round-robin", "partitioner.enforce": "true"})
	if err == nil || !strings.Contains(err.Error(), `"partitioner.enforce": cannot be true with partitioner round-robin`) {
		t.Errorf("round-robin + enforce: %v", err)
	}
}
