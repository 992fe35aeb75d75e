package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
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
