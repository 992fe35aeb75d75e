package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeConfig writes text to a config.toml in a fresh directory and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadEmptyPathIsDefault(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() {
		t.Fatal("Load(\"\") != Default()")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
}

func TestLoadOverridesAndKeepsDefaults(t *testing.T) {
	p := writeConfig(t, `
"log.segment.bytes" = 1048576
listeners = "PLAINTEXT://127.0.0.1:19092"
"log.cleaner.min.cleanable.ratio" = 1     # an integer is accepted for a DOUBLE
log.flush.before.ack = false              # unquoted dotted key: the same setting

[log.retention]                           # a table: log.retention.bytes
bytes = 5000

[metadata]
nats_url = "nats://10.0.0.5:4222,nats://10.0.0.6:4222"
kv_bucket = "other"
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.LogSegmentBytes = 1048576
	want.Listeners = "PLAINTEXT://127.0.0.1:19092"
	want.LogCleanerMinCleanableRatio = 1
	want.LogFlushBeforeAck = false
	want.LogRetentionBytes = 5000
	want.Metadata.NatsURL = "nats://10.0.0.5:4222,nats://10.0.0.6:4222"
	want.Metadata.Bucket = "other"
	c.fileKeys = ""
	if c != want {
		t.Errorf("got\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string // each must appear in the error
	}{
		{"unknown key", `"log.segmnt.bytes" = 5`,
			[]string{`config.toml: "log.segmnt.bytes": unknown key (did you mean "log.segment.bytes"?)`}},
		{"unknown key far from any", `wibble = 1`,
			[]string{`config.toml: "wibble": unknown key`}},
		{"unknown key in table", "[metadata]\nnats = \"x\"",
			[]string{`"metadata.nats": unknown key`}},
		{"unknown table", "[nope]\nx = 1",
			[]string{`"nope.x": unknown key`}},
		{"section not a table", `admin = "x"`,
			[]string{`"admin": must be a table, got string "x"`}},
		{"out of range", `"log.segment.bytes" = 3`,
			[]string{`config.toml: "log.segment.bytes": must be >= 14, got 3`}},
		{"wrong type string for int", `"num.partitions" = "three"`,
			[]string{`"num.partitions": must be an integer, got string "three"`}},
		{"wrong type int for bool", `"auto.create.topics.enable" = 1`,
			[]string{`"auto.create.topics.enable": must be true or false, got integer 1`}},
		{"wrong type int for string", `listeners = 9092`,
			[]string{`"listeners": must be a string, got integer 9092`}},
		{"float for int", `"node.id" = 1.5`,
			[]string{`"node.id": must be an integer, got float 1.5`}},
		{"int32 overflow", `"message.max.bytes" = 3000000000`,
			[]string{`"message.max.bytes": must be between -2147483648 and 2147483647, got 3000000000`}},
		{"table for a setting", "[listeners]\nx = 1",
			[]string{`"listeners": must be a string, got a table`}},
		{"bad enum", `"compression.type" = "brotli"`,
			[]string{`"compression.type": must be one of uncompressed, zstd, lz4, snappy, gzip, producer; got "brotli"`}},
		{"bad cleanup policy", `"log.cleanup.policy" = "compact,remove"`,
			[]string{`"log.cleanup.policy": must be delete, compact or "compact,delete"; got "compact,remove"`}},
		{"group assignor", `"group.assignor" = "fastest"`,
			[]string{`"group.assignor": unknown assignor "fastest" (want range, roundrobin, sticky, cooperative-sticky, uniform or wasm:NAME; "" = unset)`}},
		{"consumer assignors", `"group.consumer.assignors" = "uniform,fair"`,
			[]string{`"group.consumer.assignors": unknown assignor "fair" (want a comma-separated list of uniform, range, sticky, roundrobin)`}},
		{"ratio", `"log.cleaner.min.cleanable.ratio" = 1.5`,
			[]string{`"log.cleaner.min.cleanable.ratio": must be between 0 and 1, got 1.5`}},
		{"retention hours zero", `"log.retention.hours" = 0`,
			[]string{`"log.retention.hours": must be -1 (forever) or >= 1, got 0`}},
		{"listener scheme", `listeners = "SSL://:9093"`,
			[]string{`"listeners": only PLAINTEXT listeners are supported, got "SSL://:9093"`}},
		{"listener garbage", `listeners = "localhost"`,
			[]string{`"listeners": must be HOST:PORT or PLAINTEXT://HOST:PORT, got "localhost"`}},
		{"advertised wildcard", `"advertised.listeners" = "0.0.0.0:9092"`,
			[]string{`"advertised.listeners": must name a host clients can reach, got "0.0.0.0:9092"`}},
		{"admin listen", "[admin]\nlisten = \"9644\"",
			[]string{`"admin.listen": must be HOST:PORT or empty, got "9644"`}},
		{"nats url", "[metadata]\nnats_url = \"http://x:1\"",
			[]string{`"metadata.nats_url": scheme must be nats, tls, ws or wss, got "http://x:1"`}},
		{"bucket", "[metadata]\nkv_bucket = \"a.b\"",
			[]string{`"metadata.kv_bucket": must match [A-Za-z0-9_-]+, got "a.b"`}},
		{"plugin env", "[plugins]\nenv = \"REGION=eu,oops\"",
			[]string{`"plugins.env": want KEY=VALUE pairs separated by commas, got "oops"`}},
		{"cross check", `"group.min.session.timeout.ms" = 10000` + "\n" + `"group.max.session.timeout.ms" = 5000`,
			[]string{`"group.max.session.timeout.ms": must be >= group.min.session.timeout.ms (10000), got 5000`}},
		{"same key twice", `"log.segment.bytes" = 100` + "\n" + `log.segment.bytes = 200`,
			[]string{`"log.segment.bytes": set more than once`}},
		{"syntax error", "\"log.segment.bytes\" = \n",
			[]string{`config.toml:1:`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.text))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadCollectsAllErrors(t *testing.T) {
	p := writeConfig(t, `
"log.segment.bytes" = 3
"num.partitions" = "x"
"no.such.key" = 1
"min.insync.replicas" = 0
[admin]
listen = "nope"
`)
	_, err := Load(p)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 5 {
		t.Fatalf("want 5 errors, got %d:\n%v", len(lines), err)
	}
	// Unknown keys first, then wrong types, then bad values, each in config.toml order.
	for i, key := range []string{"no.such.key", "num.partitions", "min.insync.replicas", "log.segment.bytes", "admin.listen"} {
		if !strings.Contains(lines[i], `: "`+key+`": `) {
			t.Errorf("line %d = %q, want the error for %q", i, lines[i], key)
		}
	}
	// Each is a *KeyError naming the key.
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Key != "no.such.key" || !strings.HasSuffix(ke.Source, "config.toml") {
		t.Errorf("first KeyError = %+v", ke)
	}
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	c := Default()
	c.LogSegmentBytes = 3
	c.NumPartitions = 0
	c.LogMessageTimestampType = "Now"
	err := c.Validate()
	want := []string{
		`config: "num.partitions": must be >= 1, got 0`,
		`config: "log.segment.bytes": must be >= 14, got 3`,
		`config: "log.message.timestamp.type": must be one of CreateTime, LogAppendTime; got "Now"`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Validate() =\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestRetentionPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ms             int64
		minutes, hours int32
		want           int64
	}{
		{"default hours", 0, 0, 168, 168 * 3600000},
		{"hours", 0, 0, 2, 2 * 3600000},
		{"minutes over hours", 0, 30, 2, 30 * 60000},
		{"ms over minutes and hours", 1234, 30, 2, 1234},
		{"ms forever", -1, 30, 2, -1},
		{"minutes forever", 0, -1, 2, -1},
		{"hours forever", 0, 0, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.LogRetentionMs, c.LogRetentionMinutes, c.LogRetentionHours = tc.ms, tc.minutes, tc.hours
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := c.RetentionMs(); got != tc.want {
				t.Errorf("RetentionMs() = %d, want %d", got, tc.want)
			}
			if v, _ := c.TopicDefault("retention.ms"); v != strconv.FormatInt(tc.want, 10) {
				t.Errorf("TopicDefault(retention.ms) = %s, want %d", v, tc.want)
			}
		})
	}
}

func TestRetentionFromFile(t *testing.T) {
	c, err := Load(writeConfig(t, `"log.retention.minutes" = 10`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RetentionMs(); got != 600000 {
		t.Errorf("RetentionMs() = %d, want 600000", got)
	}
}

func TestRollMs(t *testing.T) {
	c := Default()
	if got := c.RollMs(); got != 168*3600000 {
		t.Errorf("default RollMs = %d", got)
	}
	c.LogRollHours = 1
	if got := c.RollMs(); got != 3600000 {
		t.Errorf("RollMs with hours 1 = %d", got)
	}
	c.LogRollMs = 500
	if got := c.RollMs(); got != 500 {
		t.Errorf("RollMs with ms 500 = %d", got)
	}
	c.LogRollJitterHours = 1
	if got := c.RollJitterMs(); got != 3600000 {
		t.Errorf("RollJitterMs = %d", got)
	}
}

func TestLoadDefaultOrFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	c, used, err := LoadDefaultOrFile("")
	if err != nil || used != "" || c != Default() {
		t.Fatalf("no file: used %q err %v", used, err)
	}

	if err := os.WriteFile("config.toml", []byte(`"num.partitions" = 3`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, used, err = LoadDefaultOrFile("")
	if err != nil || used != "config.toml" || c.NumPartitions != 3 {
		t.Fatalf("./config.toml: used %q partitions %d err %v", used, c.NumPartitions, err)
	}

	other := filepath.Join(dir, "other.toml")
	if err := os.WriteFile(other, []byte(`"num.partitions" = 0`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, used, err = LoadDefaultOrFile(other)
	if used != other || err == nil || !strings.Contains(err.Error(), `other.toml: "num.partitions": must be >= 1, got 0`) {
		t.Fatalf("explicit path: used %q err %v", used, err)
	}
}

func TestIsSet(t *testing.T) {
	c, err := Load(writeConfig(t, `
"log.retention.hours" = 168   # same as the default: reported as a default
"log.retention.ms" = 0        # 0 = not set
"log.segment.bytes" = 1000
`))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{
		"log.retention.hours": false,
		"log.retention.ms":    false,
		"log.segment.bytes":   true,
		"num.partitions":      false,
		"no.such.key":         false,
	} {
		if got := c.IsSet(key); got != want {
			t.Errorf("IsSet(%q) = %v, want %v", key, got, want)
		}
	}
	// Changed in code: set even without a file.
	d := Default()
	d.NumPartitions = 3
	if !d.IsSet("num.partitions") || d.IsSet("log.segment.bytes") {
		t.Error("IsSet on a Config changed in code")
	}
}
