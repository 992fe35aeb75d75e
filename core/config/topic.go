package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicConfigDef describes one topic-level config (Kafka's name, type and range).
type TopicConfigDef struct {
	Name string
	// Type is Kafka's ConfigType name: BOOLEAN, STRING, INT, LONG, DOUBLE or LIST.
	Type string
	Doc  string
	// Valid describes the accepted values the way Kafka's documentation does, e.g.
	// "[14,...]" or "[delete, compact]".
	Valid string
	// BrokerSynonym is the broker setting whose value is the topic's default; "" for
	// streamd's own topic configs (partitioner, partitioner.enforce), whose default is fixed.
	BrokerSynonym string
	// Synonyms are all broker settings that feed the default, highest precedence first
	// (retention.ms: log.retention.ms, log.retention.minutes, log.retention.hours).
	Synonyms []string
}

// ConfigType is Type as kmsg's enum, for DescribeConfigs v3+.
func (d TopicConfigDef) ConfigType() kmsg.ConfigType {
	t, _ := kmsg.ParseConfigType(d.Type)
	return t
}

// TopicConfigError is an invalid topic config: an unknown name or a bad value. It
// unwraps to kerr.InvalidConfig, the code Kafka answers with in both cases.
type TopicConfigError struct {
	Name    string
	Value   string
	Unknown bool   // the name is not a topic config
	Problem string // why the value is bad, when !Unknown
}

func (e *TopicConfigError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("config: unknown topic config %q", e.Name)
	}
	return fmt.Sprintf("config: topic config %q: %s", e.Name, e.Problem)
}

// Unwrap returns kerr.InvalidConfig.
func (e *TopicConfigError) Unwrap() error { return kerr.InvalidConfig }

type topicDef struct {
	TopicConfigDef
	// parse converts a wire value to its typed form (int32, int64, float64, bool or a
	// canonical string) or says why it is invalid.
	parse func(string) (any, string)
	// def derives the default from the broker config; nil = the BrokerSynonym's value.
	def func(c Config) string
}

// topicOnly defines a streamd topic config that no broker setting feeds: its default is
// fixed (source DEFAULT_CONFIG) and it has no synonyms.
func topicOnly(name, typ, def, valid, doc string, parse func(string) (any, string)) *topicDef {
	return &topicDef{TopicConfigDef: TopicConfigDef{Name: name, Type: typ, Doc: doc, Valid: valid},
		parse: parse, def: func(Config) string { return def }}
}

func tdef(name, typ, brokerKey, valid, doc string, parse func(string) (any, string)) *topicDef {
	return &topicDef{TopicConfigDef: TopicConfigDef{Name: name, Type: typ, Doc: doc, Valid: valid,
		BrokerSynonym: brokerKey, Synonyms: []string{brokerKey}}, parse: parse}
}

// topicDefs is the catalogue, in the (alphabetical) order Kafka lists them.
var topicDefs = []*topicDef{
	tdef("cleanup.policy", "LIST", "log.cleanup.policy", "[delete, compact]",
		`"delete" drops old segments by retention.ms/retention.bytes; "compact" keeps the latest record per key; both may be given.`,
		parseCleanupPolicy),
	tdef("compression.type", "STRING", "compression.type", "[uncompressed, zstd, lz4, snappy, gzip, producer]",
		`Codec the topic's batches are stored with; producer keeps the producer's codec.`,
		parseOneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")),
	tdef("delete.retention.ms", "LONG", "log.cleaner.delete.retention.ms", "[0,...]",
		`How long tombstones are kept on a compacted topic.`, parseLong(0)),
	tdef("file.delete.delay.ms", "LONG", "log.segment.delete.delay.ms", "[0,...]",
		`Wait before deleting a segment file removed from the log.`, parseLong(0)),
	tdef("flush.messages", "LONG", "log.flush.interval.messages", "[1,...]",
		`Flush after this many messages (when log.flush.before.ack is false).`, parseLong(1)),
	tdef("flush.ms", "LONG", "log.flush.interval.ms", "[0,...]",
		`Flush at least this often (when log.flush.before.ack is false).`, parseLong(0)),
	tdef("index.interval.bytes", "INT", "log.index.interval.bytes", "[0,...]",
		`Bytes of records between two index entries.`, parseInt(0)),
	tdef("max.compaction.lag.ms", "LONG", "log.cleaner.max.compaction.lag.ms", "[1,...]",
		`Records older than this become eligible for compaction.`, parseLong(1)),
	tdef("max.message.bytes", "INT", "message.max.bytes", "[0,...]",
		`Largest record batch accepted (after compression).`, parseInt(0)),
	tdef("message.timestamp.after.max.ms", "LONG", "log.message.timestamp.after.max.ms", "[0,...]",
		`Reject CreateTime timestamps more than this far in the future.`, parseLong(0)),
	tdef("message.timestamp.before.max.ms", "LONG", "log.message.timestamp.before.max.ms", "[0,...]",
		`Reject CreateTime timestamps more than this far in the past.`, parseLong(0)),
	tdef("message.timestamp.difference.max.ms", "LONG", "log.message.timestamp.difference.max.ms", "[0,...]",
		`Deprecated: bound on a CreateTime timestamp's distance from the broker clock, either way.`, parseLong(0)),
	tdef("message.timestamp.type", "STRING", "log.message.timestamp.type", "[CreateTime, LogAppendTime]",
		`Keep the producer's timestamps (CreateTime) or stamp batches with the broker clock (LogAppendTime).`,
		parseOneOf("CreateTime", "LogAppendTime")),
	tdef("min.cleanable.dirty.ratio", "DOUBLE", "log.cleaner.min.cleanable.ratio", "[0,...,1]",
		`Dirty fraction of the log that makes it eligible for compaction.`, parseRatio),
	tdef("min.compaction.lag.ms", "LONG", "log.cleaner.min.compaction.lag.ms", "[0,...]",
		`Records younger than this are never compacted.`, parseLong(0)),
	tdef("min.insync.replicas", "INT", "min.insync.replicas", "[1,...]",
		`Minimum in-sync replicas for an acks=all produce.`, parseInt(1)),
	topicOnly("partitioner", "STRING", DefaultPartitioner, "[murmur2, round-robin, sticky, consistent-random, wasm:NAME]",
		`Strategy for records whose partition the broker or streamd's clients pick (HTTP produce, streamd produce without --partition); wasm:NAME is an uploaded partitioner plugin.`,
		parsePartitioner),
	topicOnly("partitioner.enforce", "BOOLEAN", "false", "",
		`Reject (INVALID_RECORD) a Kafka produce whose records do not belong to the partition they were sent to, by the topic's partitioner; keyless records are checked only with wasm:NAME; not allowed with round-robin.`,
		parseBool),
	tdef("preallocate", "BOOLEAN", "log.preallocate", "",
		`Preallocate segment files on creation.`, parseBool),
	tdef("retention.bytes", "LONG", "log.retention.bytes", "",
		`Delete old segments while a partition is bigger than this; negative = no limit.`, parseLong(math.MinInt64)),
	tdef("retention.ms", "LONG", "log.retention.ms", "[-1,...]",
		`Delete segments whose newest record is older than this; -1 = forever.`, parseLong(-1)),
	tdef("segment.bytes", "INT", "log.segment.bytes", "[14,...]",
		`Roll a new segment when the active one would exceed this size.`, parseInt(14)),
	tdef("segment.index.bytes", "INT", "log.index.size.max.bytes", "[4,...]",
		`Maximum size of a segment's offset index.`, parseInt(4)),
	tdef("segment.jitter.ms", "LONG", "log.roll.jitter.ms", "[0,...]",
		`Random jitter subtracted from segment.ms.`, parseLong(0)),
	tdef("segment.ms", "LONG", "log.roll.ms", "[1,...]",
		`Roll a new segment after this age.`, parseLong(1)),
	tdef("unclean.leader.election.enable", "BOOLEAN", "unclean.leader.election.enable", "",
		`Accepted for compatibility; a single broker has no other replica to elect.`, parseBool),
}

var topicDefByName = map[string]*topicDef{}

// initTopics fills topicDefByName; it runs after initSettings.
func initTopics() {
	msString := func(f func(Config) int64) func(Config) string {
		return func(c Config) string { return strconv.FormatInt(f(c), 10) }
	}
	special := map[string]struct {
		synonyms []string
		def      func(Config) string
	}{
		"retention.ms":      {[]string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}, msString(Config.RetentionMs)},
		"segment.ms":        {[]string{"log.roll.ms", "log.roll.hours"}, msString(Config.RollMs)},
		"segment.jitter.ms": {[]string{"log.roll.jitter.ms", "log.roll.jitter.hours"}, msString(Config.RollJitterMs)},
	}
	for _, d := range topicDefs {
		if sp, ok := special[d.Name]; ok {
			d.Synonyms, d.def = sp.synonyms, sp.def
		}
		for _, k := range d.Synonyms {
			if settingByKey[k] == nil {
				panic("config: topic config " + d.Name + " has unknown broker synonym " + k)
			}
		}
		topicDefByName[d.Name] = d
	}
}

// TopicConfigDefs returns the topic-level configs streamd understands, sorted by name.
func TopicConfigDefs() []TopicConfigDef {
	out := make([]TopicConfigDef, len(topicDefs))
	for i, d := range topicDefs {
		out[i] = d.TopicConfigDef
		out[i].Synonyms = slices.Clone(d.Synonyms)
	}
	return out
}

// LookupTopicConfig returns the definition of the topic config name.
func LookupTopicConfig(name string) (TopicConfigDef, bool) {
	d, ok := topicDefByName[name]
	if !ok {
		return TopicConfigDef{}, false
	}
	def := d.TopicConfigDef
	def.Synonyms = slices.Clone(d.Synonyms)
	return def, true
}

// ValidateTopicConfig checks one topic config as it arrives on the wire. The error is a
// [*TopicConfigError] naming the config and the problem.
func ValidateTopicConfig(name, value string) error {
	d, ok := topicDefByName[name]
	if !ok {
		return &TopicConfigError{Name: name, Value: value, Unknown: true}
	}
	if _, p := d.parse(value); p != "" {
		return &TopicConfigError{Name: name, Value: value, Problem: p}
	}
	return nil
}

// TopicDefault is the value a topic without its own setting for name gets, derived from
// the broker settings, and its DescribeConfigs source: 4 (STATIC_BROKER_CONFIG) when a
// broker synonym is set (see [Config.IsSet]), else 5 (DEFAULT_CONFIG). An unknown name
// returns "", 0 (UNKNOWN).
func (c Config) TopicDefault(name string) (value string, source int8) {
	d, ok := topicDefByName[name]
	if !ok {
		return "", int8(kmsg.ConfigSourceUnknown)
	}
	if d.def != nil {
		value = d.def(c)
	} else {
		value = formatValue(settingByKey[d.BrokerSynonym].field(reflect.ValueOf(c)))
	}
	source = int8(kmsg.ConfigSourceDefaultConfig)
	for _, k := range d.Synonyms {
		if c.IsSet(k) {
			source = int8(kmsg.ConfigSourceStaticBrokerConfig)
			break
		}
	}
	return value, source
}

// ---- value parsers (Kafka trims whitespace around values) ----

func parseLong(lo int64) func(string) (any, string) {
	return func(s string) (any, string) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Sprintf("must be a 64-bit integer, got %q", s)
		}
		if n < lo {
			return nil, fmt.Sprintf("must be >= %d, got %d", lo, n)
		}
		return n, ""
	}
}

func parseInt(lo int32) func(string) (any, string) {
	return func(s string) (any, string) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return nil, fmt.Sprintf("must be a 32-bit integer, got %q", s)
		}
		if int32(n) < lo {
			return nil, fmt.Sprintf("must be >= %d, got %d", lo, n)
		}
		return int32(n), ""
	}
}

func parseRatio(s string) (any, string) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return nil, fmt.Sprintf("must be a number, got %q", s)
	}
	if !(f >= 0 && f <= 1) {
		return nil, fmt.Sprintf("must be between 0 and 1, got %g", f)
	}
	return f, ""
}

func parseBool(s string) (any, string) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, ""
	case "false":
		return false, ""
	}
	return nil, fmt.Sprintf("must be true or false, got %q", s)
}

func parseOneOf(vals ...string) func(string) (any, string) {
	return func(s string) (any, string) {
		t := strings.TrimSpace(s)
		if slices.Contains(vals, t) {
			return t, ""
		}
		return nil, fmt.Sprintf("must be one of %s; got %q", strings.Join(vals, ", "), s)
	}
}

// DefaultPartitioner is the default of the topic config partitioner.
const DefaultPartitioner = "murmur2"

// PluginPrefix starts a partitioner or group.assignor value that names an uploaded Wasm
// plugin ("wasm:NAME").
const PluginPrefix = "wasm:"

// BuiltinPartitioners are the values of the topic config partitioner that name a
// built-in strategy (package partitioner).
var BuiltinPartitioners = []string{"murmur2", "round-robin", "sticky", "consistent-random"}

// ValidatePluginName checks the name of an uploaded plugin: 1 to 64 characters from
// [A-Za-z0-9._-], starting with a letter or digit.
func ValidatePluginName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("config: invalid plugin name %q: want 1 to 64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return fmt.Errorf("config: invalid plugin name %q: use [A-Za-z0-9._-], starting with a letter or digit", name)
		}
	}
	return nil
}

// parsePartitioner accepts a built-in partitioner name or wasm:NAME (that the plugin
// exists and is a partitioner is checked by the broker, which owns the registry).
func parsePartitioner(s string) (any, string) {
	t := strings.TrimSpace(s)
	if slices.Contains(BuiltinPartitioners, t) {
		return t, ""
	}
	if name, ok := strings.CutPrefix(t, PluginPrefix); ok {
		if err := ValidatePluginName(name); err != nil {
			return nil, strings.TrimPrefix(err.Error(), "config: ")
		}
		return t, ""
	}
	return nil, fmt.Sprintf("must be one of %s or wasm:NAME; got %q", strings.Join(BuiltinPartitioners, ", "), s)
}

// parseCleanupPolicy accepts a comma-separated list of delete and compact and returns
// the canonical "delete", "compact" or "compact,delete".
func parseCleanupPolicy(s string) (any, string) {
	var compact, del bool
	for p := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(p) {
		case "compact":
			compact = true
		case "delete":
			del = true
		default:
			return nil, fmt.Sprintf(`must be delete, compact or "compact,delete"; got %q`, s)
		}
	}
	switch {
	case compact && del:
		return "compact,delete", ""
	case compact:
		return "compact", ""
	default:
		return "delete", ""
	}
}
