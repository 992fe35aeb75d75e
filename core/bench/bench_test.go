package bench

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newCluster starts an in-process single-broker kfake cluster on 127.0.0.1:0.
func newCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestProduceThenConsume(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t)
	var progress syncBuffer
	res, err := Produce(ctx, ProduceConfig{
		Brokers: brokers, Topic: "bench", Partitions: 3, RecordSize: 512,
		Records: 3000, Acks: -1, Concurrency: 2, Compression: "zstd", Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 3000 || res.Bytes != 3000*512 {
		t.Fatalf("produce result %v: want exactly 3000 records of 512 bytes", res)
	}
	if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.P999 || res.MiBps <= 0 {
		t.Fatalf("produce result %v: want ordered positive percentiles and a rate", res)
	}

	adm := kadm.NewClient(mustClient(t, brokers))
	details, err := adm.ListTopics(ctx, "bench")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details["bench"].Partitions); n != 3 {
		t.Fatalf("created topic has %d partitions, want 3", n)
	}

	// Re-running against the existing topic appends to it.
	if _, err := Produce(ctx, ProduceConfig{Brokers: brokers, Topic: "bench", Partitions: 3, RecordSize: 512, Records: 1000, Acks: 1}); err != nil {
		t.Fatalf("second produce: %v", err)
	}

	got, err := Consume(ctx, ConsumeConfig{Brokers: brokers, Topic: "bench", Records: 4000, FetchMaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got.Records != 4000 || got.Bytes != 4000*512 || got.P99 != 0 {
		t.Fatalf("consume result %v: want 4000 records of 512 bytes and no latency", got)
	}
}

func TestConsumeStopsAtDuration(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t)
	if _, err := Produce(ctx, ProduceConfig{Brokers: brokers, Topic: "few", Records: 10, Acks: -1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := Consume(ctx, ConsumeConfig{Brokers: brokers, Topic: "few", Records: 1000, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("reaching Duration must not be an error, got %v", err)
	}
	if got.Records != 10 {
		t.Fatalf("consumed %d records, want the 10 that exist", got.Records)
	}
	if el := time.Since(start); el < 500*time.Millisecond || el > 5*time.Second {
		t.Fatalf("consume took %v, want about 500ms", el)
	}
}

func TestProduceDurationAndRate(t *testing.T) {
	brokers := newCluster(t)
	start := time.Now()
	res, err := Produce(testCtx(t), ProduceConfig{
		Brokers: brokers, Topic: "paced", RecordSize: 100, Duration: 500 * time.Millisecond,
		RateLimit: 2000, Acks: -1, Linger: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// 2000/s for 0.5s: about 1000 records, never far more.
	if res.Records < 700 || res.Records > 1100 {
		t.Fatalf("produced %d records in 0.5s at 2000/s, want about 1000", res.Records)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("500ms run took %v", el)
	}
}

func TestProduceWarmupIsProducedButNotCounted(t *testing.T) {
	brokers := newCluster(t)
	ctx := testCtx(t)
	start := time.Now()
	res, err := Produce(ctx, ProduceConfig{
		Brokers: brokers, Topic: "warm", RecordSize: 100, Duration: 500 * time.Millisecond,
		Warmup: 500 * time.Millisecond, RateLimit: 2000, Acks: -1, Linger: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("run with 500ms warm-up and 500ms duration took %v, want ≥ 1s", el)
	}
	// Counted: the measured 0.5s at 2000/s only.
	if res.Records < 700 || res.Records > 1100 || res.Elapsed > 900*time.Millisecond {
		t.Fatalf("result %v: want about 1000 records over about 0.5s (the warm-up not counted)", res)
	}
	// Produced: the warm-up's records too.
	ends, err := kadm.NewClient(mustClient(t, brokers)).ListEndOffsets(ctx, "warm")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total < res.Records+700 {
		t.Fatalf("topic holds %d records, want the %d counted plus about 1000 of warm-up", total, res.Records)
	}

	// A record bound counts measured records only.
	res, err = Produce(ctx, ProduceConfig{
		Brokers: brokers, Topic: "warm", RecordSize: 100, Records: 300,
		Warmup: 300 * time.Millisecond, RateLimit: 2000, Acks: -1, Linger: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 300 {
		t.Fatalf("counted %d records, want exactly the 300 after the warm-up", res.Records)
	}
}

func TestProduceReturnsFirstError(t *testing.T) {
	brokers := newCluster(t)
	// A record larger than the batch limit fails in the client with MESSAGE_TOO_LARGE.
	res, err := Produce(testCtx(t), ProduceConfig{
		Brokers: brokers, Topic: "big", RecordSize: 64 << 10, BatchMaxBytes: 16 << 10, Records: 100, Acks: -1,
	})
	if err == nil || !strings.HasPrefix(err.Error(), "bench: produce: ") || !strings.Contains(err.Error(), "MESSAGE_TOO_LARGE") {
		t.Fatalf("err = %v, want bench: produce: ... MESSAGE_TOO_LARGE", err)
	}
	if res.Records != 0 {
		t.Fatalf("result counts %d records, want 0 acked", res.Records)
	}
}

func TestProduceCanceled(t *testing.T) {
	brokers := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Produce(ctx, ProduceConfig{Brokers: brokers, Topic: "c", Duration: time.Minute, Acks: -1, RateLimit: 1000})
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("err = %v, want the context error", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("canceled produce returned after %v", el)
	}
}

func mustClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// A run against a broker that does not answer fails at once, naming it,
// instead of retrying for as long as the run may last.
func TestUnreachableBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	want := "cannot reach any broker (" + addr + ")"
	start := time.Now()
	_, err = Consume(testCtx(t), ConsumeConfig{Brokers: []string{addr}, Topic: "t", Records: 10})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Consume = %v, want an error containing %q", err, want)
	}
	_, err = Produce(testCtx(t), ProduceConfig{Brokers: []string{addr}, Topic: "t", Records: 10, RecordSize: 10})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Produce = %v, want an error containing %q", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to report refused connections", d)
	}
}

// A consume run that waits IdleTimeout for a record ends with an error that
// says why: the topic does not exist, or nothing more came.
func TestConsumeIdleTimeout(t *testing.T) {
	brokers := newCluster(t)
	if _, err := Produce(testCtx(t), ProduceConfig{Brokers: brokers, Topic: "few", Partitions: 2, Records: 5, RecordSize: 10}); err != nil {
		t.Fatal(err)
	}
	res, err := Consume(testCtx(t), ConsumeConfig{Brokers: brokers, Topic: "few", Records: 100, IdleTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no record for 300ms after reading 5 of 100") || res.Records != 5 {
		t.Errorf("Consume = %v, %v; want the 5 records and an idle timeout error", res, err)
	}
	// Bounded by time alone: running out of records ends the run.
	res, err = Consume(testCtx(t), ConsumeConfig{Brokers: brokers, Topic: "few", Duration: time.Minute, IdleTimeout: 300 * time.Millisecond})
	if err != nil || res.Records != 5 {
		t.Errorf("Consume for a minute = %v, %v; want the 5 records, no error, well before the minute", res, err)
	}
	if res.Elapsed >= 300*time.Millisecond {
		t.Errorf("elapsed %v counts the idle wait at the end", res.Elapsed)
	}
	start := time.Now()
	_, err = Consume(testCtx(t), ConsumeConfig{Brokers: brokers, Topic: "missing", Duration: time.Minute, IdleTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), `topic "missing" does not exist`) {
		t.Errorf("Consume of a missing topic = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v with a 300ms idle timeout", d)
	}
}
