package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// TestProduceConsumeMatrix round-trips records through every codec, every acks level
// and 1 or 64 partitions, checking content, order per partition and contiguous offsets.
func TestProduceConsumeMatrix(t *testing.T) {
	addr := brokertest.Start(t)
	adm := newAdmin(t, addr)
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	acksLevels := map[string]kgo.Acks{"acks0": kgo.NoAck(), "acks1": kgo.LeaderAck(), "acksall": kgo.AllISRAcks()}
	for cname, codec := range codecs {
		for aname, acks := range acksLevels {
			for _, parts := range []int32{1, 64} {
				if parts == 64 && aname != "acksall" {
					continue // 64 partitions once per codec is enough
				}
				name := fmt.Sprintf("m-%s-%s-%d", cname, aname, parts)
				t.Run(name, func(t *testing.T) {
					createTopic(t, adm, name, parts, nil)
					opts := []kgo.Opt{kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(acks), kgo.DefaultProduceTopic(name)}
					if aname != "acksall" {
						opts = append(opts, kgo.DisableIdempotentWrite())
					}
					cl := newClient(t, addr, opts...)
					const n = 500
					ctx := ctxT(t, 20*time.Second)
					var wg sync.WaitGroup
					var perr error
					var mu sync.Mutex
					for i := range n {
						wg.Add(1)
						r := &kgo.Record{Key: []byte("k" + strconv.Itoa(i%37)), Value: bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%300)}
						r.Headers = []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}}
						cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
							defer wg.Done()
							if err != nil {
								mu.Lock()
								perr = err
								mu.Unlock()
							}
						})
					}
					wg.Wait()
					if perr != nil {
						t.Fatalf("produce: %v", perr)
					}
					got := consumeN(t, addr, name, n)
					if len(got) != n {
						t.Fatalf("got %d records, want %d", len(got), n)
					}
					next := map[int32]int64{}
					lastI := map[int32]int{}
					for _, r := range got {
						if r.Offset != next[r.Partition] {
							t.Fatalf("partition %d: offset %d, want %d (contiguous)", r.Partition, r.Offset, next[r.Partition])
						}
						next[r.Partition]++
						i, _ := strconv.Atoi(string(r.Headers[0].Value))
						if prev, ok := lastI[r.Partition]; ok && i <= prev && aname != "acks0" {
							t.Fatalf("partition %d: record %d after %d (order)", r.Partition, i, prev)
						}
						lastI[r.Partition] = i
						if want := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%300); !bytes.Equal(r.Value, want) {
							t.Fatalf("record %d: value mismatch", i)
						}
						if string(r.Key) != "k"+strconv.Itoa(i%37) {
							t.Fatalf("record %d: key %q", i, r.Key)
						}
					}
				})
			}
		}
	}
}

// TestLongPollWakesOnProduce: a consumer waiting in a long poll gets a record produced
// after it started waiting well before max wait elapses.
func TestLongPollWakesOnProduce(t *testing.T) {
	addr := brokertest.Start(t)
	adm := newAdmin(t, addr)
	createTopic(t, adm, "lp", 1, nil)
	cons := newClient(t, addr, kgo.ConsumeTopics("lp"), kgo.FetchMaxWait(30*time.Second), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := make(chan *kgo.Record, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			if rs := fs.Records(); len(rs) > 0 {
				got <- rs[0]
				return
			}
		}
		close(got)
	}()
	time.Sleep(500 * time.Millisecond) // let the consumer enter its long poll
	prod := newClient(t, addr, kgo.DefaultProduceTopic("lp"))
	if err := prod.ProduceSync(ctxT(t, 10*time.Second), kgo.StringRecord("wake")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case r, ok := <-got:
		if !ok || string(r.Value) != "wake" {
			t.Fatalf("consumer did not get the record")
		}
		if waited := time.Since(start); waited > 10*time.Second {
			t.Fatalf("long poll answered after %v, not on produce", waited)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("long poll never woke up")
	}
}

// TestAutoCreate: producing to and asking metadata for an unknown topic creates it with
// num.partitions; with auto.create.topics.enable=false it stays unknown.
func TestAutoCreate(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(func(c *config.Config) { c.NumPartitions = 3 }))
	cl := newClient(t, addr, kgo.DefaultProduceTopic("auto-1"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctxT(t, 10*time.Second), kgo.StringRecord("x")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	td, err := newAdmin(t, addr).ListTopics(ctxT(t, 5*time.Second), "auto-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := td["auto-1"]; d.Err != nil || len(d.Partitions) != 3 {
		t.Fatalf("auto-created topic: err %v, %d partitions, want 3", d.Err, len(d.Partitions))
	}

	off := brokertest.Start(t, brokertest.WithConfig(func(c *config.Config) { c.AutoCreateTopicsEnable = false }))
	cl2 := newClient(t, off, kgo.DefaultProduceTopic("auto-2"), kgo.AllowAutoTopicCreation(), kgo.RecordDeliveryTimeout(2*time.Second))
	if err := cl2.ProduceSync(ctxT(t, 10*time.Second), kgo.StringRecord("x")).FirstErr(); err == nil {
		t.Fatal("produce to unknown topic succeeded with auto-create disabled")
	}
	td, _ = newAdmin(t, off).ListTopics(ctxT(t, 5*time.Second))
	if td.Has("auto-2") {
		t.Fatal("topic was created although auto.create.topics.enable=false")
	}
}
