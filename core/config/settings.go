package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// setting describes one key of config.toml. The table below is the single source of the
// keys' order, one-line docs and checks; config.toml and docs/config.md are rendered
// from it (see DefaultTOML and the golden tests).
type setting struct {
	key   string          // dotted path, e.g. "log.segment.bytes" or "metadata.nats_url"
	group string          // section comment printed before this key in config.toml
	doc   string          // one line
	typ   kmsg.ConfigType // Kafka's type; 0 = derived from the Go field type
	// unsetZero: the value 0 means "not set" (fall back to a coarser unit); Kafka's
	// default for the key is null.
	unsetZero bool
	check     func(v reflect.Value) string // "" when valid
	index     []int                        // field index path in Config, set by init
}

var settings = []*setting{
	{key: "listeners", group: "Network and server", typ: kmsg.ConfigTypeList, check: checkListener(false),
		doc: `Address the Kafka listener binds: "HOST:PORT" or "PLAINTEXT://HOST:PORT" (one listener; port 0 = any free port).`},
	{key: "advertised.listeners", typ: kmsg.ConfigTypeList, check: checkListener(true),
		doc: `Address given to clients in Metadata; "" = derive from listeners (an unspecified host becomes "localhost").`},
	{key: "node.id", check: atLeast(0),
		doc: `This broker's id, returned in Metadata and FindCoordinator.`},
	{key: "log.dirs", typ: kmsg.ConfigTypeList, check: nonEmpty,
		doc: `Directory holding the partition logs (one directory).`},
	{key: "socket.request.max.bytes", check: atLeast(1),
		doc: `Largest request frame accepted; a bigger one closes the connection.`},
	{key: "connections.max.idle.ms", check: atLeast(-1),
		doc: `Close connections idle for this long; -1 = never.`},
	{key: "message.max.bytes", check: viaTopic("max.message.bytes"),
		doc: `Largest record batch accepted (after compression); default of the topic config max.message.bytes.`},
	{key: "fetch.max.bytes", check: atLeast(1024),
		doc: `Upper bound on the bytes returned by one Fetch response.`},

	{key: "num.partitions", group: "Topics", check: atLeast(1),
		doc: `Partitions of auto-created topics and of CreateTopics requests that ask for the default (-1).`},
	{key: "default.replication.factor", check: atLeast(1),
		doc: `Replication factor of auto-created topics and of CreateTopics requests that ask for the default (-1).`},
	{key: "auto.create.topics.enable",
		doc: `Create a topic when a Metadata request (or a produce) names one that does not exist.`},
	{key: "delete.topic.enable",
		doc: `Allow DeleteTopics; false answers TOPIC_DELETION_DISABLED.`},
	{key: "min.insync.replicas", check: viaTopic("min.insync.replicas"),
		doc: `Minimum in-sync replicas for an acks=all produce (one broker: 1); default of min.insync.replicas.`},
	{key: "unclean.leader.election.enable", check: viaTopic("unclean.leader.election.enable"),
		doc: `Accepted for compatibility; a single broker never elects another leader.`},
	{key: "compression.type", check: viaTopic("compression.type"),
		doc: `Codec batches are stored with: producer (keep as sent), uncompressed, gzip, snappy, lz4 or zstd.`},

	{key: "log.segment.bytes", group: "Log segments and indexes", check: viaTopic("segment.bytes"),
		doc: `Roll a new segment when the active one would exceed this size.`},
	{key: "log.roll.ms", unsetZero: true, check: atLeast(0),
		doc: `Roll a new segment after this age in ms; 0 = not set, use log.roll.hours.`},
	{key: "log.roll.hours", check: atLeast(1),
		doc: `Roll a new segment after this age in hours (used when log.roll.ms is 0).`},
	{key: "log.roll.jitter.ms", unsetZero: true, check: atLeast(0),
		doc: `Random jitter subtracted from the roll age, in ms; 0 = not set, use log.roll.jitter.hours.`},
	{key: "log.roll.jitter.hours", check: atLeast(0),
		doc: `Random jitter subtracted from the roll age, in hours (used when log.roll.jitter.ms is 0).`},
	{key: "log.index.interval.bytes", check: viaTopic("index.interval.bytes"),
		doc: `Bytes of records between two entries of the sparse offset and time indexes.`},
	{key: "log.index.size.max.bytes", check: viaTopic("segment.index.bytes"),
		doc: `Maximum size of one segment's offset index; a full index rolls the segment.`},
	{key: "log.preallocate", check: viaTopic("preallocate"),
		doc: `Preallocate segment files on creation.`},
	{key: "log.segment.delete.delay.ms", check: viaTopic("file.delete.delay.ms"),
		doc: `Wait this long before deleting a segment file removed from the log.`},

	{key: "log.retention.ms", group: "Retention and cleanup", unsetZero: true, check: atLeast(-1),
		doc: `Delete segments older than this (ms); -1 = forever; 0 = not set, use log.retention.minutes.`},
	{key: "log.retention.minutes", unsetZero: true, check: atLeast(-1),
		doc: `Retention in minutes; -1 = forever; 0 = not set, use log.retention.hours.`},
	{key: "log.retention.hours", check: minusOneOrAtLeast(1),
		doc: `Retention in hours (used when log.retention.ms and log.retention.minutes are 0); -1 = forever.`},
	{key: "log.retention.bytes", check: viaTopic("retention.bytes"),
		doc: `Delete old segments while a partition is bigger than this; -1 = no size limit.`},
	{key: "log.retention.check.interval.ms", check: atLeast(1),
		doc: `How often segments are checked for deletion.`},
	{key: "log.cleanup.policy", typ: kmsg.ConfigTypeList, check: viaTopic("cleanup.policy"),
		doc: `What happens to old segments: "delete", "compact" or "compact,delete".`},

	{key: "log.cleaner.enable", group: "Log cleaner (compaction)",
		doc: `Run the log cleaner for topics whose cleanup.policy includes compact.`},
	{key: "log.cleaner.delete.retention.ms", check: viaTopic("delete.retention.ms"),
		doc: `How long tombstones are kept on compacted topics.`},
	{key: "log.cleaner.min.cleanable.ratio", check: viaTopic("min.cleanable.dirty.ratio"),
		doc: `Dirty fraction of a log that makes it eligible for cleaning (0..1).`},
	{key: "log.cleaner.min.compaction.lag.ms", check: viaTopic("min.compaction.lag.ms"),
		doc: `Records younger than this are never compacted.`},
	{key: "log.cleaner.max.compaction.lag.ms", check: viaTopic("max.compaction.lag.ms"),
		doc: `Records older than this become eligible for compaction regardless of the dirty ratio.`},
	{key: "log.cleaner.io.max.bytes.per.second", check: floatAbove(0),
		doc: `I/O throttle of the log cleaner (read plus write bytes per second).`},
	{key: "log.cleaner.cpu.max.fraction", check: floatIn(0, 1),
		doc: `streamd only: most fraction of the wall time the log cleaner works (it sleeps the rest; 1 = no limit). It always runs at the lowest CPU priority.`},

	{key: "log.flush.before.ack", group: "Durability and flushing",
		doc: `true: answer an acks>=1 produce only after fdatasync (group commit); false: flush in the background like Kafka.`},
	{key: "log.direct.io",
		doc: `streamd only: with log.flush.before.ack = true, log data bypasses the page cache: appends are written with O_DIRECT from memory, fetches and the cleaner read with O_DIRECT (with a small read-ahead cache; fetches at the log end are answered from the memory of the tail). The buffers are in transparent huge pages where the kernel allows (THP madvise or always): on virtio disks that halves the cost of each read. Less kernel CPU per byte; false: buffered writes and sendfile. Ignored where the file system refuses O_DIRECT.`},
	{key: "log.flush.interval.messages", check: viaTopic("flush.messages"),
		doc: `With log.flush.before.ack = false, flush a partition after this many messages.`},
	{key: "log.flush.interval.ms", check: viaTopic("flush.ms"),
		doc: `With log.flush.before.ack = false, flush dirty partitions at least this often.`},
	{key: "log.flush.offset.checkpoint.interval.ms", check: atLeast(0),
		doc: `How often each partition's recovery point (last flushed position) is written. streamd's default is 1000 (Kafka: 60000): a crash makes start-up scan what was written since, so this bounds recovery time.`},

	{key: "log.message.timestamp.type", group: "Record timestamps", check: viaTopic("message.timestamp.type"),
		doc: `CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the broker's clock.`},
	{key: "log.message.timestamp.difference.max.ms", check: viaTopic("message.timestamp.difference.max.ms"),
		doc: `Deprecated: maximum distance of a CreateTime timestamp from the broker's clock, either way.`},
	{key: "log.message.timestamp.before.max.ms", check: viaTopic("message.timestamp.before.max.ms"),
		doc: `Reject (INVALID_TIMESTAMP) CreateTime timestamps more than this far in the past.`},
	{key: "log.message.timestamp.after.max.ms", check: viaTopic("message.timestamp.after.max.ms"),
		doc: `Reject (INVALID_TIMESTAMP) CreateTime timestamps more than this far in the future.`},

	{key: "offsets.topic.num.partitions", group: "Consumer groups and committed offsets", check: atLeast(1),
		doc: `Number of coordinator partitions groups are hashed into (as for __consumer_offsets).`},
	{key: "offsets.retention.minutes", check: atLeast(1),
		doc: `Committed offsets of an empty group are deleted after this long.`},
	{key: "offsets.retention.check.interval.ms", check: atLeast(1),
		doc: `How often expired committed offsets are looked for.`},
	{key: "offsets.topic.segment.bytes", check: atLeast(1),
		doc: `segment.bytes of __consumer_offsets when the broker creates it (smaller than log.segment.bytes, so the cleaner can compact it sooner).`},
	{key: "group.initial.rebalance.delay.ms", check: atLeast(0),
		doc: `Wait this long for more members before the first rebalance of an empty classic group.`},
	{key: "group.min.session.timeout.ms", check: atLeast(0),
		doc: `Smallest session timeout a classic group member may ask for.`},
	{key: "group.max.session.timeout.ms", check: atLeast(0),
		doc: `Largest session timeout a classic group member may ask for.`},
	{key: "group.max.size", check: atLeast(1),
		doc: `Maximum members in one classic group.`},
	{key: "group.consumer.session.timeout.ms", check: atLeast(1),
		doc: `Session timeout of KIP-848 (ConsumerGroupHeartbeat) group members.`},
	{key: "group.consumer.heartbeat.interval.ms", check: atLeast(1),
		doc: `Heartbeat interval given to KIP-848 group members.`},
	{key: "group.consumer.assignors", typ: kmsg.ConfigTypeList, check: checkConsumerAssignors,
		doc: `Server assignors KIP-848 members may ask for (ServerAssignor), the first being the default: uniform, range (also sticky, roundrobin).`},
	{key: "group.consumer.max.size", check: atLeast(1),
		doc: `Maximum members in one KIP-848 consumer group.`},
	{key: "group.assignor", check: checkGroupAssignor,
		doc: `Default of the group config group.assignor (broker-owned assignment strategy): "" = the leader member assigns (KIP-848 members choose); range, roundrobin, sticky, cooperative-sticky, uniform or wasm:NAME.`},

	{key: "transaction.max.timeout.ms", group: "Idempotent and transactional producers", check: atLeast(1),
		doc: `Largest transaction timeout a producer may ask for.`},
	{key: "transactional.id.expiration.ms", check: atLeast(1),
		doc: `Forget a transactional id after this long without a transaction.`},
	{key: "producer.id.expiration.ms", check: atLeast(1),
		doc: `Forget an idempotent producer's sequence state after this long without a produce.`},

	{key: "metadata.nats_url", group: "Cluster metadata (NATS JetStream KV)", check: checkNatsURL,
		doc: `External NATS server(s), "nats://host:4222" (comma-separated for a cluster); "" = embedded nats-server.`},
	{key: "metadata.store_dir",
		doc: `Embedded nats-server's JetStream directory; "" = <log.dirs>/nats.`},
	{key: "metadata.kv_bucket", check: checkBucket,
		doc: `KV bucket that holds topics, ids and configs.`},
	{key: "metadata.listen", check: checkHostPort,
		doc: `host:port where the embedded nats-server also accepts other processes; "" = in-process only.`},

	{key: "admin.listen", group: "Admin HTTP endpoint", check: checkHostPort,
		doc: `host:port serving /metrics (Prometheus) and /health; "" = disabled.`},

	{key: "plugins.bucket", group: "Wasm plugins (registry in a NATS JetStream object store)", check: checkBucket,
		doc: `Object store bucket that holds uploaded plugin modules and their versions.`},
	{key: "plugins.max_module_bytes", check: atLeast(1024),
		doc: `Largest plugin module accepted at upload.`},
	{key: "plugins.memory_limit_bytes", check: atLeast(4 << 20),
		doc: `Linear memory limit of each plugin instance (a Go guest needs at least 4 MiB).`},
	{key: "plugins.call_timeout_ms", check: atLeast(1),
		doc: `Deadline of each call into a plugin (one batch of records or one assignment).`},
	{key: "plugins.pool_size", check: atLeast(1),
		doc: `Instances per plugin, i.e. concurrent calls into one plugin; further callers wait.`},
	{key: "plugins.start_timeout_ms", check: atLeast(1),
		doc: `Deadline of starting a plugin instance (its initialisation; never below call_timeout_ms).`},
	{key: "plugins.allow_wall_clock",
		doc: `Give plugins the real wall clock; false = a fake clock that never reveals the time.`},
	{key: "plugins.allow_crypto_random",
		doc: `Give plugins the host's cryptographic random source; false = a deterministic one.`},
	{key: "plugins.env", typ: kmsg.ConfigTypeList, check: checkPluginEnv,
		doc: `Environment variables plugins see, "KEY=VALUE" pairs separated by commas; "" = none.`},
}

// checkPluginEnv accepts "" or comma-separated KEY=VALUE pairs with non-empty keys.
func checkPluginEnv(v reflect.Value) string {
	if _, err := PluginEnv(v.String()); err != nil {
		return err.Error()
	}
	return ""
}

// PluginEnv parses plugins.env ("KEY=VALUE,KEY2=VALUE2") into a map.
func PluginEnv(s string) (map[string]string, error) {
	env := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return env, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("want KEY=VALUE pairs separated by commas, got %q", kv)
		}
		env[k] = v
	}
	return env, nil
}

// crossChecks are the checks that involve two settings; each names the key reported.
var crossChecks = []func(c Config) (key, problem string){
	func(c Config) (string, string) {
		if c.GroupMaxSessionTimeoutMs < c.GroupMinSessionTimeoutMs {
			return "group.max.session.timeout.ms", fmt.Sprintf("must be >= group.min.session.timeout.ms (%d), got %d",
				c.GroupMinSessionTimeoutMs, c.GroupMaxSessionTimeoutMs)
		}
		return "", ""
	},
	func(c Config) (string, string) {
		if c.LogCleanerMaxCompactionLagMs < c.LogCleanerMinCompactionLagMs {
			return "log.cleaner.max.compaction.lag.ms", fmt.Sprintf("must be >= log.cleaner.min.compaction.lag.ms (%d), got %d",
				c.LogCleanerMinCompactionLagMs, c.LogCleanerMaxCompactionLagMs)
		}
		return "", ""
	},
	func(c Config) (string, string) {
		if c.GroupConsumerHeartbeatIntervalMs >= c.GroupConsumerSessionTimeoutMs {
			return "group.consumer.heartbeat.interval.ms", fmt.Sprintf("must be < group.consumer.session.timeout.ms (%d), got %d",
				c.GroupConsumerSessionTimeoutMs, c.GroupConsumerHeartbeatIntervalMs)
		}
		return "", ""
	},
}

var (
	settingByKey = map[string]*setting{}
	// sections are the table names (prefixes of keys) of config.toml: "metadata", "admin".
	sections = map[string]bool{}
)

func init() {
	initSettings()
	initTopics()
}

// initSettings resolves each setting's Config field and fills settingByKey.
func initSettings() {
	fields := map[string][]int{}
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct {
				sections[prefix+tag] = true
				walk(f.Type, prefix+tag+".", idx)
				continue
			}
			fields[prefix+tag] = idx
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	for _, s := range settings {
		idx, ok := fields[s.key]
		if !ok {
			panic("config: setting " + s.key + " has no Config field")
		}
		if settingByKey[s.key] != nil {
			panic("config: setting " + s.key + " listed twice")
		}
		s.index = idx
		settingByKey[s.key] = s
		if s.typ == 0 {
			s.typ = kafkaType(reflect.TypeFor[Config]().FieldByIndex(idx).Type.Kind())
		}
	}
	for k := range fields {
		if settingByKey[k] == nil {
			panic("config: Config field " + k + " is not in the settings table")
		}
	}
}

func kafkaType(k reflect.Kind) kmsg.ConfigType {
	switch k {
	case reflect.Bool:
		return kmsg.ConfigTypeBoolean
	case reflect.Int32:
		return kmsg.ConfigTypeInt
	case reflect.Int64:
		return kmsg.ConfigTypeLong
	case reflect.Float64:
		return kmsg.ConfigTypeDouble
	default:
		return kmsg.ConfigTypeString
	}
}

// field returns the (settable when c is addressable) value of s in c.
func (s *setting) field(c reflect.Value) reflect.Value { return c.FieldByIndex(s.index) }

// formatValue renders a setting's value the way DescribeConfigs shows it.
func formatValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	default:
		return v.String()
	}
}

// ---- checks ----

func atLeast(n int64) func(reflect.Value) string {
	return func(v reflect.Value) string {
		if v.Int() < n {
			return fmt.Sprintf("must be >= %d, got %d", n, v.Int())
		}
		return ""
	}
}

func minusOneOrAtLeast(n int64) func(reflect.Value) string {
	return func(v reflect.Value) string {
		if x := v.Int(); x != -1 && x < n {
			return fmt.Sprintf("must be -1 (forever) or >= %d, got %d", n, x)
		}
		return ""
	}
}

func floatAbove(lo float64) func(reflect.Value) string {
	return func(v reflect.Value) string {
		if !(v.Float() > lo) {
			return fmt.Sprintf("must be > %g, got %g", lo, v.Float())
		}
		return ""
	}
}

// floatIn accepts lo < v <= hi.
func floatIn(lo, hi float64) func(reflect.Value) string {
	return func(v reflect.Value) string {
		if x := v.Float(); !(x > lo && x <= hi) {
			return fmt.Sprintf("must be > %g and <= %g, got %g", lo, hi, x)
		}
		return ""
	}
}

func nonEmpty(v reflect.Value) string {
	if strings.TrimSpace(v.String()) == "" {
		return "must not be empty"
	}
	return ""
}

// viaTopic checks a broker setting with the rules of the topic config it is the default
// of, so that both always accept the same values.
func viaTopic(topicName string) func(reflect.Value) string {
	return func(v reflect.Value) string {
		d := topicDefByName[topicName]
		if _, problem := d.parse(formatValue(v)); problem != "" {
			return problem
		}
		return ""
	}
}

func checkListener(advertised bool) func(reflect.Value) string {
	return func(v reflect.Value) string {
		s := v.String()
		if advertised && s == "" {
			return ""
		}
		host, port, problem := parseListener(s)
		if problem != "" {
			return problem
		}
		if advertised {
			if host == "" || net.ParseIP(host).IsUnspecified() {
				return fmt.Sprintf("must name a host clients can reach, got %q", s)
			}
			if port == 0 {
				return fmt.Sprintf("port must be 1-65535, got %q", s)
			}
		}
		return ""
	}
}

func checkHostPort(v reflect.Value) string {
	s := v.String()
	if s == "" {
		return ""
	}
	if _, _, err := splitHostPort(s); err != nil {
		return fmt.Sprintf("must be HOST:PORT or empty, got %q", s)
	}
	return ""
}

var bucketRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// consumerAssignorNames are the built-in strategies a KIP-848 member may ask for.
var consumerAssignorNames = []string{"uniform", "range", "sticky", "roundrobin"}

func checkConsumerAssignors(v reflect.Value) string {
	n := 0
	for a := range strings.SplitSeq(v.String(), ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		n++
		if !slices.Contains(consumerAssignorNames, a) {
			return fmt.Sprintf("unknown assignor %q (want a comma-separated list of %s)", a, strings.Join(consumerAssignorNames, ", "))
		}
	}
	if n == 0 {
		return "must name at least one assignor"
	}
	return ""
}

func checkGroupAssignor(v reflect.Value) string {
	s := v.String()
	if s == "" || strings.HasPrefix(s, "wasm:") && len(s) > len("wasm:") {
		return ""
	}
	for _, n := range []string{"range", "roundrobin", "sticky", "cooperative-sticky", "uniform"} {
		if s == n {
			return ""
		}
	}
	return fmt.Sprintf("unknown assignor %q (want range, roundrobin, sticky, cooperative-sticky, uniform or wasm:NAME; \"\" = unset)", s)
}

func checkBucket(v reflect.Value) string {
	if !bucketRE.MatchString(v.String()) {
		return fmt.Sprintf("must match [A-Za-z0-9_-]+, got %q", v.String())
	}
	return ""
}

func checkNatsURL(v reflect.Value) string {
	s := v.String()
	if s == "" {
		return ""
	}
	for u := range strings.SplitSeq(s, ",") {
		u = strings.TrimSpace(u)
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			return fmt.Sprintf("must be a NATS URL like \"nats://host:4222\" (comma-separated for several), got %q", u)
		}
		switch p.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Sprintf("scheme must be nats, tls, ws or wss, got %q", u)
		}
	}
	return ""
}
