package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

func TestTopicDescribeCleanerColumns(t *testing.T) {
	br := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) { c.LogRetentionCheckIntervalMs = 100 }))
	b := "--brokers=" + br.Addr()
	admin := "--admin=http://" + br.AdminAddr()
	ok(t, "", b, "topic", "create", "kv", "-p", "2", "-c", "cleanup.policy=compact",
		"-c", "segment.bytes=2048", "-c", "min.cleanable.dirty.ratio=0.01")

	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for r := range 40 {
		for k := range 5 {
			rec := &kgo.Record{Topic: "kv", Partition: 0, Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "v%d", r)}
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	var parts [][]string
	var desc result
	deadline := time.Now().Add(15 * time.Second)
	for {
		desc = ok(t, "", b, "topic", "describe", "kv", admin)
		parts = table(t, desc.stdout, "PARTITION")
		// PARTITION LEADER EPOCH START END SIZE SEGMENTS DIRTY LAST-CLEANED RECLAIMED
		if len(parts) == 2 && len(parts[0]) == 10 && parts[0][8] != "-" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition 0 not shown cleaned after 15s:\n%s%s", desc.stdout, desc.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if desc.stderr != "" {
		t.Errorf("describe with a reachable admin endpoint wrote to stderr: %q", desc.stderr)
	}
	p0, p1 := parts[0], parts[1]
	if p0[4] != "200" {
		t.Errorf("partition 0 END %s, want 200", p0[4])
	}
	if n, err := strconv.Atoi(p0[6]); err != nil || n < 2 {
		t.Errorf("partition 0 SEGMENTS %q, want >= 2", p0[6])
	}
	if d, err := strconv.ParseFloat(p0[7], 64); err != nil || d < 0 || d >= 1 {
		t.Errorf("partition 0 DIRTY %q, want a ratio below 1 after cleaning", p0[7])
	}
	if _, err := time.Parse(time.RFC3339, p0[8]); err != nil {
		t.Errorf("partition 0 LAST-CLEANED %q: %v", p0[8], err)
	}
	if n, err := strconv.ParseInt(p0[9], 10, 64); err != nil || n <= 0 {
		t.Errorf("partition 0 RECLAIMED %q, want > 0", p0[9])
	}
	if strings.Join(p1[6:], " ") != "1 0.00 - 0" {
		t.Errorf("empty partition 1 cleaner columns %v, want [1 0.00 - 0]", p1[6:])
	}

	// An admin endpoint that does not answer: the Kafka-only table and one note.
	r := ok(t, "", b, "topic", "describe", "kv", "--admin=http://"+closedAddr(t))
	if parts := table(t, r.stdout, "PARTITION"); len(parts) != 2 || len(parts[0]) != 6 {
		t.Errorf("without admin endpoint, partition rows %v, want 2 rows of 6 columns", parts)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "note: ") {
		t.Errorf("without admin endpoint, stderr %q, want one note line", r.stderr)
	}
	// --admin= skips the endpoint silently.
	r = ok(t, "", b, "topic", "describe", "kv", "--admin=")
	if len(table(t, r.stdout, "PARTITION")[0]) != 6 || r.stderr != "" {
		t.Errorf("--admin= : stdout %q stderr %q, want 6 columns and no note", r.stdout, r.stderr)
	}
}
