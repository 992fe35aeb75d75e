package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

func logSize(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	dirs, err := adm.DescribeAllLogDirs(ctxT(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("DescribeLogDirs: %v", err)
	}
	var size int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { size += p.Size })
	})
	return size
}

func TestCleanerCompactsTopic(t *testing.T) {
	addr := startRetentionBroker(t) // checks (and cleans) every 100 ms
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	const topic = "compacted"
	s := func(v string) *string { return &v }
	if _, err := adm.CreateTopic(ctxT(t, 10*time.Second), 1, 1, map[string]*string{
		"cleanup.policy": s("compact"), "segment.bytes": s("2048"), "min.cleanable.dirty.ratio": s("0.01"),
	}, topic); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	const keys, rounds = 5, 40
	for r := 0; r < rounds; r++ {
		for k := 0; k < keys; k++ {
			rec := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "v%d-%d", k, r)}
			if err := cl.ProduceSync(ctxT(t, 10*time.Second), rec).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	full := logSize(t, adm, topic)
	deadline := time.Now().Add(15 * time.Second)
	for logSize(t, adm, topic) > full/2 {
		if time.Now().After(deadline) {
			t.Fatalf("log still %d bytes (was %d) after 15s", logSize(t, adm, topic), full)
		}
		time.Sleep(50 * time.Millisecond)
	}

	c := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	ctx := ctxT(t, 20*time.Second)
	latest := map[string]string{}
	var n int
	for len(latest) < keys || latest[fmt.Sprintf("k%d", keys-1)] != fmt.Sprintf("v%d-%d", keys-1, rounds-1) {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records, latest %v, before timeout", n, latest)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) { latest[string(r.Key)] = string(r.Value); n++ })
	}
	for k := 0; k < keys; k++ {
		if got, want := latest[fmt.Sprintf("k%d", k)], fmt.Sprintf("v%d-%d", k, rounds-1); got != want {
			t.Errorf("key k%d: latest value %q, want %q", k, got, want)
		}
	}
	if n >= keys*rounds {
		t.Errorf("consumed %d records: nothing compacted", n)
	}
}

// TestCleanerMinCompactionLag: records younger than min.compaction.lag.ms are not
// compacted; once the lag is lowered (AlterConfigs) they are.
func TestCleanerMinCompactionLag(t *testing.T) {
	b := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) { c.LogRetentionCheckIntervalMs = 100 }))
	addr := b.Addr()
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	createTopic(t, adm, "lag", 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("2048"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"), "min.compaction.lag.ms": kadm.StringPtr("3600000"),
	})
	for r := range 40 {
		for k := range 5 {
			rec := &kgo.Record{Topic: "lag", Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "v%d-%d", k, r)}
			if err := cl.ProduceSync(ctxT(t, 10*time.Second), rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	full := logSize(t, adm, "lag")
	// The cleaner looks at the partition (its dirty-ratio gauge appears: 0, as no
	// segment is old enough to be cleanable) but leaves it alone.
	gauge := `streamd_cleaner_dirty_ratio{partition="0",topic="lag"}`
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, ok := scrapeMetrics(t, b.AdminAddr())[gauge]; ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cleaner did not report the partition's dirty ratio within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := logSize(t, adm, "lag"); s != full {
		t.Fatalf("log size %d -> %d while min.compaction.lag.ms holds every record", full, s)
	}
	if got := consumeN(t, addr, "lag", 200); len(got) != 200 || got[199].Offset != 199 {
		t.Fatalf("read %d records while min.compaction.lag.ms holds every record, want all 200", len(got))
	}
	if lc := scrapeMetrics(t, b.AdminAddr()); lc[`streamd_cleaner_last_clean_timestamp_seconds{partition="0",topic="lag"}`] != 0 {
		t.Fatal("partition cleaned while min.compaction.lag.ms holds every record")
	}
	if _, err := adm.AlterTopicConfigs(ctxT(t, 10*time.Second), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "min.compaction.lag.ms", Value: kadm.StringPtr("0")},
	}, "lag"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for logSize(t, adm, "lag") > full/2 {
		if time.Now().After(deadline) {
			t.Fatalf("log still %d bytes (was %d) 15s after lowering min.compaction.lag.ms", logSize(t, adm, "lag"), full)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
