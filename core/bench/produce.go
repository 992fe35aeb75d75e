package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Produce runs a produce workload described by c; see the package comment
// for what is measured. It returns the first error a record failed with (or
// ctx's error), together with what was measured up to then.
func Produce(ctx context.Context, c ProduceConfig) (Result, error) {
	c, err := c.normalize()
	if err != nil {
		return Result{}, err
	}
	if err := EnsureTopic(ctx, c.Brokers, c.Topic, c.Partitions); err != nil {
		return Result{}, err
	}
	opts := producerOpts(c)
	clients := make([]*kgo.Client, 0, c.Concurrency)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for range c.Concurrency {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return Result{}, fmt.Errorf("bench: producer client: %w", err)
		}
		clients = append(clients, cl)
	}

	r := run{cfg: c, payload: Payload(c.RecordSize)}
	r.pool.New = func() any {
		return &kgo.Record{Topic: c.Topic, Value: r.payload, Context: &sentAt{Context: context.Background()}}
	}
	r.measureFrom = time.Now().Add(c.Warmup)
	r.meter = StartMeterAt("produce", c.Progress, r.measureFrom)
	if c.Duration > 0 {
		r.deadline = r.measureFrom.Add(c.Duration)
	}
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() { r.produceLoop(ctx, cl) })
	}
	wg.Wait()
	res := r.meter.Stop()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: produce: %w", err)
	}
	if err := r.err(); err != nil {
		return res, fmt.Errorf("bench: produce: %w", err)
	}
	return res, nil
}

// run is the state shared by the producer goroutines of one Produce call.
type run struct {
	cfg     ProduceConfig
	payload []byte
	pool    sync.Pool // *kgo.Record, reused after their promise ran
	meter   *Meter
	// measureFrom ends the warm-up: records issued before it are not counted.
	measureFrom time.Time
	deadline    time.Time // zero = no time bound
	issued      atomic.Int64
	stopped     atomic.Bool
	errMu       sync.Mutex
	first       error
}

func (r *run) fail(err error) {
	r.errMu.Lock()
	if r.first == nil {
		r.first = err
	}
	r.errMu.Unlock()
	r.stopped.Store(true)
}

func (r *run) err() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.first
}

// promise runs serially per client once a record is acked or failed.
func (r *run) promise(rec *kgo.Record, err error) {
	if err != nil {
		r.fail(err)
		return
	}
	sent := rec.Context.(*sentAt)
	if !sent.t.Before(r.measureFrom) {
		r.meter.Record(len(rec.Key)+len(rec.Value), time.Since(sent.t))
	}
	*rec = kgo.Record{Topic: r.cfg.Topic, Value: r.payload, Context: sent}
	r.pool.Put(rec)
}

// sentAt is a pooled record's Context (kgo passes it through untouched): the
// time Produce was called, the start of the record's latency.
type sentAt struct {
	context.Context
	t time.Time
}

func (r *run) produceLoop(ctx context.Context, cl *kgo.Client) {
	pacer := NewPacer(r.cfg.RateLimit / float64(r.cfg.Concurrency))
	for !r.stopped.Load() {
		if err := pacer.Wait(ctx); err != nil {
			r.fail(err)
			break
		}
		now := time.Now()
		if !r.deadline.IsZero() && now.After(r.deadline) {
			break
		}
		if r.cfg.Records > 0 && !now.Before(r.measureFrom) && r.issued.Add(1) > r.cfg.Records {
			break
		}
		rec := r.pool.Get().(*kgo.Record)
		rec.Timestamp = now
		rec.Context.(*sentAt).t = now // kgo truncates Timestamp to milliseconds
		cl.Produce(ctx, rec, r.promise)
	}
	if err := cl.Flush(ctx); err != nil {
		r.fail(err)
	}
}

func producerOpts(c ProduceConfig) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.DefaultProduceTopic(c.Topic),
	}
	switch c.Acks {
	case -1:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case 1:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	codec := kgo.NoCompression()
	switch c.Compression {
	case "gzip":
		codec = kgo.GzipCompression()
	case "snappy":
		codec = kgo.SnappyCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	switch {
	case c.Linger > 0:
		opts = append(opts, kgo.ProducerLinger(c.Linger))
	case c.Linger < 0:
		opts = append(opts, kgo.ProducerLinger(0))
	}
	if c.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(c.BatchMaxBytes))
	}
	return opts
}

// pingTimeout bounds how long a run waits for the first answer of a broker.
const pingTimeout = 10 * time.Second

// reachable checks, within pingTimeout, that one of the brokers answers, so
// a run against a cluster that is down fails at once with a clear error
// instead of retrying for as long as the run may last.
func reachable(ctx context.Context, cl *kgo.Client, brokers []string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("bench: cannot reach any broker (%s): %w", strings.Join(brokers, ","), err)
	}
	return nil
}

// EnsureTopic creates topic with the given partition count and replication
// factor 1 unless it already exists.
func EnsureTopic(ctx context.Context, brokers []string, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("bench: admin client: %w", err)
	}
	defer cl.Close()
	if err := reachable(ctx, cl, brokers); err != nil {
		return err
	}
	_, err = kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("bench: create topic %q: %w", topic, err)
	}
	return nil
}

// Payload returns size bytes of random upper-case letters (seeded, so every
// run sends the same bytes). Like Kafka's own perf tool, the letters make
// the payload moderately compressible rather than all zeroes.
func Payload(size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, size)
	for i := range b {
		b[i] = 'A' + byte(rng.IntN(26))
	}
	return b
}
