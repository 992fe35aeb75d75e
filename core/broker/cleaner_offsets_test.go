package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// TestConsumerOffsetsCompacted: __consumer_offsets is created with
// offsets.topic.segment.bytes and compacted by the cleaner like any compacted topic;
// after a restart every group's latest commits are loaded from the compacted log.
func TestConsumerOffsetsCompacted(t *testing.T) {
	dir := t.TempDir()
	opts := []brokertest.Option{brokertest.WithDataDir(dir), brokertest.WithConfig(func(c *config.Config) {
		c.LogRetentionCheckIntervalMs = 100
		c.OffsetsTopicNumPartitions = 1
		c.OffsetsTopicSegmentBytes = 4096
	})}
	b1 := brokertest.StartBroker(t, opts...)
	adm := newAdmin(t, b1.Addr())
	createTopic(t, adm, "src", 3, nil)
	groups := []string{"g1", "g2"}
	const commits = 150
	want := map[string]kadm.Offsets{}
	for i := range commits {
		for _, g := range groups {
			offs := kadm.Offsets{}
			for p := range int32(3) {
				offs.Add(kadm.Offset{Topic: "src", Partition: p, At: int64(i*10) + int64(p), LeaderEpoch: -1})
			}
			resp, err := adm.CommitOffsets(ctxT(t, 10*time.Second), g, offs)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Fatalf("commit %d of %s: %v", i, g, err)
			}
			want[g] = offs
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(ctxT(t, 10*time.Second), "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("__consumer_offsets", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = c.MaybeValue()
	}
	if got["cleanup.policy"] != "compact" || got["segment.bytes"] != "4096" {
		t.Fatalf("__consumer_offsets cleanup.policy=%q segment.bytes=%q, want compact and 4096", got["cleanup.policy"], got["segment.bytes"])
	}

	reclaimed := `streamd_cleaner_reclaimed_bytes_total{partition="0",topic="__consumer_offsets"}`
	deadline := time.Now().Add(30 * time.Second)
	for scrapeMetrics(t, b1.AdminAddr())[reclaimed] < 20_000 {
		if time.Now().After(deadline) {
			t.Fatalf("__consumer_offsets not compacted after 30s: %v bytes reclaimed", scrapeMetrics(t, b1.AdminAddr())[reclaimed])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := b1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	b2 := brokertest.StartBroker(t, opts...)
	adm2 := newAdmin(t, b2.Addr())
	for _, g := range groups {
		fetched, err := adm2.FetchOffsets(ctxT(t, 10*time.Second), g)
		if err != nil {
			t.Fatalf("fetch offsets of %s after restart: %v", g, err)
		}
		want[g].Each(func(o kadm.Offset) {
			f, ok := fetched.Lookup("src", o.Partition)
			if !ok || f.Err != nil || f.At != o.At {
				t.Errorf("%s src/%d: committed %d after restart (%v, %v), want %d", g, o.Partition, f.At, ok, f.Err, o.At)
			}
		})
	}
}
