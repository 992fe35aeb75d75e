package broker_test

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// startRetentionBroker starts a broker that checks retention every 100 ms.
func startRetentionBroker(t *testing.T) string {
	return brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) {
		c.LogRetentionCheckIntervalMs = 100
	})).Addr()
}

// produceEach produces n records of about 1 KiB (random bytes) one at a time (one batch each), with
// timestamp ts (zero: now), keys k<first+i>.
func produceEach(t *testing.T, cl *kgo.Client, topic string, first, n int, ts time.Time) {
	t.Helper()
	for i := first; i < first+n; i++ {
		val := make([]byte, 1000)
		rand.Read(val) // incompressible, whatever the producer's compression
		r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: val, Timestamp: ts}
		if err := cl.ProduceSync(ctxT(t, 10*time.Second), r).FirstErr(); err != nil {
			t.Fatalf("produce %s record %d: %v", topic, i, err)
		}
	}
}

// startOffset returns partition 0's log start offset.
func startOffset(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	los, err := adm.ListStartOffsets(ctxT(t, 10*time.Second), topic)
	if err != nil {
		t.Fatalf("ListStartOffsets %s: %v", topic, err)
	}
	o, ok := los.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("ListStartOffsets %s: %v, %v", topic, ok, o.Err)
	}
	return o.Offset
}

// waitStartAbove polls until partition 0's log start offset is above 0.
func waitStartAbove0(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	return waitStartAtLeast(t, adm, topic, 1)
}

// waitStartAtLeast polls until the log start offset of partition 0 of topic is at least
// min and returns it. Retention may run while a test still produces, so a first move of
// the start offset need not be the last.
func waitStartAtLeast(t *testing.T, adm *kadm.Client, topic string, min int64) int64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := startOffset(t, adm, topic)
		if s >= min {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("log start offset of %s is %d after 15s, want at least %d", topic, s, min)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// consumeFrom0 reads partition 0 from offset 0 (below the log start: kgo resets to
// the start after OFFSET_OUT_OF_RANGE) until it has the records up to end, and checks
// they are exactly start..end-1 with no fetch error.
func consumeFrom0(t *testing.T, addr, topic string, start, end int64) {
	t.Helper()
	cl := newClient(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxT(t, 20*time.Second)
	var offs []int64
	for len(offs) == 0 || offs[len(offs)-1] < end-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records of %s (want %d..%d) before timeout", len(offs), topic, start, end-1)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", tp, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) { offs = append(offs, r.Offset) })
	}
	if int64(len(offs)) != end-start || offs[0] != start {
		t.Fatalf("consumed offsets %d..%d (%d records), want %d..%d", offs[0], offs[len(offs)-1], len(offs), start, end-1)
	}
	for i, o := range offs {
		if o != start+int64(i) {
			t.Fatalf("record %d has offset %d, want %d", i, o, start+int64(i))
		}
	}
}

func TestRetentionBytes(t *testing.T) {
	addr := startRetentionBroker(t)
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	// A compacted topic with the same limit is left alone.
	createTopic(t, adm, "ret-compact", 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("16384"), "retention.bytes": kadm.StringPtr("20000"), "cleanup.policy": kadm.StringPtr("compact"),
	})
	produceEach(t, cl, "ret-compact", 0, 60, time.Time{})
	createTopic(t, adm, "ret-size", 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("16384"), "retention.bytes": kadm.StringPtr("20000"),
	})
	const n = 80 // ~85 KB: 6 segments of ~15 batches
	produceEach(t, cl, "ret-size", 0, n, time.Time{})

	start := waitStartAbove0(t, adm, "ret-size")
	// Retention keeps at least retention.bytes: of ~1.1 KB batches, more than 17.
	if start > n-17 {
		t.Fatalf("log start offset %d leaves %d records, fewer than retention.bytes holds", start, n-start)
	}
	consumeFrom0(t, addr, "ret-size", start, n)
	if s := startOffset(t, adm, "ret-compact"); s != 0 {
		t.Fatalf("retention moved the start of a compacted topic to %d", s)
	}
}

func TestRetentionMs(t *testing.T) {
	addr := startRetentionBroker(t)
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	createTopic(t, adm, "ret-time", 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("16384"), "retention.ms": kadm.StringPtr("3600000"),
	})
	const old, recent = 50, 30
	produceEach(t, cl, "ret-time", 0, old, time.Now().Add(-48*time.Hour))
	produceEach(t, cl, "ret-time", old, recent, time.Time{})

	// Only segments holding nothing but old records go: the one where the recent
	// records begin stays, so the start ends at most a segment (~15 records) below them.
	start := waitStartAtLeast(t, adm, "ret-time", old-16)
	if start > old {
		t.Fatalf("log start offset %d, want the segment holding offset %d", start, old)
	}
	consumeFrom0(t, addr, "ret-time", start, old+recent)
}

// TestRetentionBrokerDefaults: a topic without retention overrides gets the broker's
// log.retention.hours (here 1 hour instead of 168); a topic with retention.ms=-1 keeps
// everything; log.retention.check.interval.ms sets how often retention runs.
func TestRetentionBrokerDefaults(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(func(c *config.Config) {
		c.LogRetentionCheckIntervalMs = 100
		c.LogRetentionHours = 1
	}))
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	createTopic(t, adm, "ret-default", 1, map[string]*string{"segment.bytes": kadm.StringPtr("16384")})
	createTopic(t, adm, "ret-forever", 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("16384"), "retention.ms": kadm.StringPtr("-1"),
	})
	const old, recent = 40, 20
	for _, topic := range []string{"ret-forever", "ret-default"} {
		produceEach(t, cl, topic, 0, old, time.Now().Add(-2*time.Hour))
		produceEach(t, cl, topic, old, recent, time.Time{})
	}
	start := waitStartAtLeast(t, adm, "ret-default", old-16)
	if start > old {
		t.Fatalf("log start offset %d, want the segment holding offset %d", start, old)
	}
	consumeFrom0(t, addr, "ret-default", start, old+recent)
	if s := startOffset(t, adm, "ret-forever"); s != 0 {
		t.Fatalf("retention.ms=-1 topic: log start offset %d, want 0", s)
	}
}

// TestSegmentMsRolls: segment.ms rolls the active segment by age (on the next append),
// which lets retention delete it.
func TestSegmentMsRolls(t *testing.T) {
	addr := startRetentionBroker(t)
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	createTopic(t, adm, "roll-ms", 1, map[string]*string{
		"segment.ms": kadm.StringPtr("100"), "retention.ms": kadm.StringPtr("3600000"),
	})
	// Old records, one produce at a time: each append after 100 ms starts a new
	// segment, and retention deletes the sealed ones (all older than an hour).
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; startOffset(t, adm, "roll-ms") == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("log start still 0 after %d old records over 15s: segments not rolled by segment.ms", i)
		}
		produceEach(t, cl, "roll-ms", i, 1, time.Now().Add(-2*time.Hour))
		time.Sleep(50 * time.Millisecond) // pace the produces so segments age
	}
}
