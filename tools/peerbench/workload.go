//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/streamd/streamd/core/bench"
)

// flushTimeout bounds how long a run may wait for outstanding acks after
// its duration is over.
const flushTimeout = 2 * time.Minute

// kafkaWorkload drives a Kafka-wire broker through core/bench: acks=all, no
// compression, kgo defaults otherwise.
type kafkaWorkload struct {
	brokers     []string
	recordSize  int
	partitions  int32
	concurrency int
}

func (w *kafkaWorkload) produce(ctx context.Context, topic string, d, warmup time.Duration, rate float64, progress io.Writer) (bench.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, warmup+d+flushTimeout)
	defer cancel()
	return bench.Produce(ctx, bench.ProduceConfig{
		Brokers: w.brokers, Topic: topic, Partitions: w.partitions, RecordSize: w.recordSize,
		Duration: d, Warmup: warmup, Acks: -1, Compression: "none", Concurrency: w.concurrency,
		Progress: progress, RateLimit: rate, Linger: lingerFor(rate),
	})
}

// lingerFor: peak runs keep kgo's default 10 ms linger (throughput); the fixed-rate
// latency run lingers 1 ms, as a latency-sensitive producer would.
func lingerFor(rate float64) time.Duration {
	if rate > 0 {
		return time.Millisecond
	}
	return 0
}

func (w *kafkaWorkload) consume(ctx context.Context, topic string, records int64, timeout time.Duration, progress io.Writer) (bench.Result, error) {
	return bench.Consume(ctx, bench.ConsumeConfig{
		Brokers: w.brokers, Topic: topic, Records: records, Duration: timeout, Progress: progress,
	})
}

// NATS client settings: nats.go's default async-publish window, and a pull
// batch of 1000 messages (about 1 MiB at 1 KiB) for the ordered consumer.
const (
	natsMaxPending = 4000
	natsPullBatch  = 5000
	natsStallWait  = 30 * time.Second
)

// natsWorkload is the closest JetStream equivalent of the Kafka workload:
// one connection publishing asynchronously (PublishAsync, at most
// natsMaxPending unacknowledged) round-robin over `subjects` subjects of a
// file-storage stream with one replica; latency runs from the publish call
// to the ack callback. Reading back uses an ordered consumer from the first
// message.
type natsWorkload struct {
	url        string
	recordSize int
	subjects   int
}

func (w *natsWorkload) produce(ctx context.Context, topic string, d, warmup time.Duration, rate float64, progress io.Writer) (bench.Result, error) {
	nc, err := nats.Connect(w.url)
	if err != nil {
		return bench.Result{}, err
	}
	defer nc.Close()

	var (
		meter    atomic.Pointer[bench.Meter]
		mu       sync.Mutex
		starts   = make(map[*nats.Msg]time.Time, natsMaxPending)
		firstErr error
		failed   atomic.Bool
	)
	onAck := func(_ jetstream.JetStream, msg *nats.Msg, _ *jetstream.PubAck) {
		mu.Lock()
		start := starts[msg]
		delete(starts, msg)
		mu.Unlock()
		if m := meter.Load(); !start.Before(m.Start()) { // not a warm-up message
			m.Record(len(msg.Data), time.Since(start))
		}
	}
	onErr := func(_ jetstream.JetStream, msg *nats.Msg, err error) {
		mu.Lock()
		delete(starts, msg)
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		failed.Store(true)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncAckHandler(onAck),
		jetstream.WithPublishAsyncErrHandler(onErr),
		jetstream.WithPublishAsyncMaxPending(natsMaxPending))
	if err != nil {
		return bench.Result{}, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: topic, Subjects: []string{topic + ".>"}, Storage: jetstream.FileStorage, Replicas: 1,
	}); err != nil {
		return bench.Result{}, fmt.Errorf("create stream %s: %w", topic, err)
	}
	subjects := make([]string, w.subjects)
	for i := range subjects {
		subjects[i] = topic + "." + strconv.Itoa(i)
	}
	payload := bench.Payload(w.recordSize)
	pacer := bench.NewPacer(rate)

	m := bench.StartMeterAt("produce", progress, time.Now().Add(warmup))
	meter.Store(m)
	deadline := m.Start().Add(d)
	for i := 0; !failed.Load(); i++ {
		if err := pacer.Wait(ctx); err != nil {
			onErr(nil, nil, err)
			break
		}
		now := time.Now()
		if now.After(deadline) {
			break
		}
		msg := &nats.Msg{Subject: subjects[i%len(subjects)], Data: payload}
		mu.Lock()
		starts[msg] = now
		mu.Unlock()
		if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(natsStallWait)); err != nil {
			onErr(nil, msg, err)
			break
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		onErr(nil, nil, ctx.Err())
	case <-time.After(flushTimeout):
		onErr(nil, nil, errors.New("acks still outstanding after the flush timeout"))
	}
	res := m.Stop()
	mu.Lock()
	defer mu.Unlock()
	return res, firstErr
}

func (w *natsWorkload) consume(ctx context.Context, topic string, records int64, timeout time.Duration, progress io.Writer) (bench.Result, error) {
	nc, err := nats.Connect(w.url)
	if err != nil {
		return bench.Result{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return bench.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	m := bench.StartMeter("consume", progress)
	cons, err := js.OrderedConsumer(ctx, topic, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		m.Stop()
		return bench.Result{}, err
	}
	done := make(chan struct{})
	var once sync.Once
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		m.Add(1, int64(len(msg.Data())))
		if m.Records() >= records {
			once.Do(func() { close(done) })
		}
	})
	if err != nil {
		m.Stop()
		return bench.Result{}, err
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	res := m.Stop()
	cc.Stop()
	<-cc.Closed()
	if errors.Is(ctx.Err(), context.Canceled) {
		return res, ctx.Err()
	}
	return res, nil
}
