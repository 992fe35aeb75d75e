package main

import (
	"strings"
	"testing"

	"github.com/streamd/streamd/core/broker/brokertest"
)

func TestTopicLifecycle(t *testing.T) {
	b := "--brokers=" + brokertest.Start(t)

	r := ok(t, "", b, "topic", "create", "orders", "-p", "3", "-c", "retention.ms=60000")
	if want := "Created topic \"orders\".\n"; r.stdout != want {
		t.Fatalf("create printed %q, want %q", r.stdout, want)
	}
	ok(t, "", b, "topic", "create", "audit", "-p", "1", "-r", "1")

	list := table(t, ok(t, "", b, "topic", "list").stdout, "NAME")
	var names []string
	for _, r := range list {
		names = append(names, r[0])
	}
	if !strings.Contains(strings.Join(names, ","), "audit,orders") {
		t.Fatalf("topic list names %v, want audit before orders", names)
	}
	if got := row(list, "orders"); strings.Join(got, " ") != "orders 3 false" {
		t.Fatalf("topic list row %v, want [orders 3 false]", got)
	}

	desc := ok(t, "", b, "topic", "describe", "orders", "--admin=").stdout
	if !strings.Contains(desc, "Topic:      orders\n") || !strings.Contains(desc, "Partitions: 3\n") {
		t.Fatalf("describe header wrong:\n%s", desc)
	}
	if id := descField(desc, "ID:"); id == "" || id == "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("describe shows topic id %q, want a non-zero id:\n%s", id, desc)
	}
	parts := table(t, desc, "PARTITION")
	if len(parts) != 3 {
		t.Fatalf("describe lists %d partitions, want 3:\n%s", len(parts), desc)
	}
	for i, p := range parts {
		// PARTITION LEADER EPOCH START END SIZE
		if len(p) != 6 || p[0] != string(rune('0'+i)) || p[3] != "0" || p[4] != "0" {
			t.Fatalf("partition row %v, want partition %d with start 0 end 0:\n%s", p, i, desc)
		}
	}
	cfg := row(table(t, desc, "CONFIG"), "retention.ms")
	if strings.Join(cfg, " ") != "retention.ms 60000 DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("retention.ms row %v, want [retention.ms 60000 DYNAMIC_TOPIC_CONFIG]:\n%s", cfg, desc)
	}

	r = ok(t, "", b, "topic", "alter-config", "orders", "retention.ms=120000", "max.message.bytes=2000000")
	if r.stdout != "Altered configs of topic \"orders\".\n" {
		t.Fatalf("alter-config printed %q", r.stdout)
	}
	configs := table(t, ok(t, "", b, "topic", "describe", "orders", "--admin=").stdout, "CONFIG")
	if got := row(configs, "retention.ms"); got[1] != "120000" {
		t.Fatalf("after alter, retention.ms row %v, want value 120000", got)
	}
	if got := row(configs, "max.message.bytes"); got[1] != "2000000" || got[2] != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("after alter, max.message.bytes row %v, want 2000000 DYNAMIC_TOPIC_CONFIG", got)
	}

	ok(t, "", b, "topic", "alter-config", "orders", "--delete", "retention.ms")
	configs = table(t, ok(t, "", b, "topic", "describe", "orders", "--admin=").stdout, "CONFIG")
	if got := row(configs, "retention.ms"); got != nil && got[len(got)-1] == "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("after --delete, retention.ms row %v is still a topic override", got)
	}

	fails(t, "TOPIC_ALREADY_EXISTS", "", b, "topic", "create", "orders", "-p", "1")

	r = ok(t, "", b, "topic", "delete", "orders")
	if r.stdout != "Deleted topic \"orders\".\n" {
		t.Fatalf("delete printed %q", r.stdout)
	}
	if row(table(t, ok(t, "", b, "topic", "list").stdout, "NAME"), "orders") != nil {
		t.Fatal("deleted topic still listed")
	}
	fails(t, "UNKNOWN_TOPIC_OR_PARTITION", "", b, "topic", "delete", "orders")
	fails(t, "UNKNOWN_TOPIC_OR_PARTITION", "", b, "topic", "describe", "orders", "--admin=")
	fails(t, "UNKNOWN_TOPIC_OR_PARTITION", "", b, "topic", "alter-config", "orders", "retention.ms=1")
}

// descField returns the value of a "Key: value" line of describe output.
func descField(out, key string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
