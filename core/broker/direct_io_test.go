//go:build linux

package broker_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker"
	"github.com/streamd/streamd/core/broker/brokertest"
)

// startDirectBroker starts a broker on a fresh data directory, skipping the
// test where its file system refuses O_DIRECT (the logs would use the page
// cache there).
func startDirectBroker(t *testing.T) *broker.Broker {
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	f, err := os.OpenFile(probe, os.O_CREATE|os.O_WRONLY|syscall.O_DIRECT, 0o644)
	if err != nil {
		t.Skipf("the file system of %s refuses O_DIRECT: %v", dir, err)
	}
	f.Close()
	os.Remove(probe)
	return brokertest.StartBroker(t, brokertest.WithDataDir(dir))
}

// randomValue is record i's value: size pseudo-random bytes from seed.
func randomValue(i, size int, seed uint64) []byte {
	v := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(i), seed))
	for j := range v {
		v[j] = byte(rng.Uint32())
	}
	return v
}

// TestDirectIOConsume: with the default log.direct.io a consumer reading a
// partition from the start gets every record intact, its first fetch read from
// disk with O_DIRECT and later ones answered from the read-ahead cache, as the
// metrics show.
func TestDirectIOConsume(t *testing.T) {
	b := startDirectBroker(t)
	before := scrapeMetrics(t, b.AdminAddr())
	createTopic(t, newAdmin(t, b.Addr()), "dio", 1, nil)
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("dio"), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	const n, size = 200, 40 << 10 // 8 MB: several read-ahead chunks
	value := func(i int) []byte { return randomValue(i, size-i, 1) }
	for i := range n {
		cl.Produce(ctxT(t, 30*time.Second), &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: value(i)}, nil)
	}
	if err := cl.Flush(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	cons := newClient(t, b.Addr(), kgo.ConsumeTopics("dio"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(1<<20))
	got := 0
	ctx := ctxT(t, 30*time.Second)
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d records: %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != int64(got) || string(r.Key) != fmt.Sprintf("k%d", got) || !bytes.Equal(r.Value, value(got)) {
				t.Fatalf("record %d: offset %d key %q, %d-byte value", got, r.Offset, r.Key, len(r.Value))
			}
			got++
		})
		time.Sleep(20 * time.Millisecond) // a consumer's processing time: the read-ahead has time to run
	}
	after := scrapeMetrics(t, b.AdminAddr())
	delta := func(name string) float64 { return after[name] - before[name] }
	if d := delta("streamd_fetch_direct_reads_total"); d < 1 {
		t.Errorf("direct reads: %v, want at least the first fetch", d)
	}
	if d := delta("streamd_fetch_readahead_hits_total"); d < 1 {
		t.Errorf("read-ahead hits: %v, want later fetches answered from the cache", d)
	}
	if d := delta("streamd_readahead_chunks_read_total"); d < 1 {
		t.Errorf("read-ahead chunks: %v", d)
	}
	if d := delta("streamd_fetch_direct_read_bytes_total") + delta("streamd_fetch_readahead_hit_bytes_total"); d < n*size/2 {
		t.Errorf("direct and cached fetch bytes %v, want about the %d bytes produced", d, n*size)
	}
	// The buffers of the reads and of the appends came from their slabs
	// (iomem.go), which stay within their bounds (96 MiB and 64 MiB).
	for use, max := range map[string]float64{"read": 96 << 20, "tail": 64 << 20} {
		m := `streamd_direct_io_memory_bytes{use="` + use + `"}`
		if v := after[m]; v <= 0 || v > max {
			t.Errorf("%s = %v, want 1-%v", m, v, max)
		}
	}
}

// TestDirectIOTwoConsumers: two consumers of one partition at different
// positions (as two consumer groups would be), reading at once, each get their
// records intact and their fetches answered from the read-ahead cache after
// the first: the cache follows each of them instead of one evicting what the
// other's read-ahead read.
func TestDirectIOTwoConsumers(t *testing.T) {
	b := startDirectBroker(t)
	createTopic(t, newAdmin(t, b.Addr()), "dio2", 1, nil)
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("dio2"), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	const n, size = 800, 40 << 10 // 32 MB: a reader needs about 16 fetches of 1 MiB
	value := func(i int) []byte { return randomValue(i, size, 2) }
	for i := range n {
		cl.Produce(ctxT(t, 30*time.Second), &kgo.Record{Value: value(i)}, nil)
	}
	if err := cl.Flush(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	before := scrapeMetrics(t, b.AdminAddr())
	errs := make(chan error, 2)
	for _, from := range []int64{0, n / 2} {
		cons := newClient(t, b.Addr(), kgo.FetchMaxPartitionBytes(1<<20),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"dio2": {0: kgo.NewOffset().At(from)}}))
		go func() {
			ctx := ctxT(t, 30*time.Second)
			for next := from; next < from+n/2; {
				fs := cons.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					errs <- fmt.Errorf("reader from %d, at %d: %w", from, next, err)
					return
				}
				var bad error
				fs.EachRecord(func(r *kgo.Record) {
					if bad == nil && (r.Offset != next || !bytes.Equal(r.Value, value(int(next)))) {
						bad = fmt.Errorf("reader from %d: record at offset %d, want %d with its value", from, r.Offset, next)
					}
					next++
				})
				if bad != nil {
					errs <- bad
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	after := scrapeMetrics(t, b.AdminAddr())
	delta := func(name string) float64 { return after[name] - before[name] }
	direct, hits := delta("streamd_fetch_direct_reads_total"), delta("streamd_fetch_readahead_hits_total")
	t.Logf("fetches read from disk: %v, answered from the read-ahead cache: %v", direct, hits)
	// Each reader's first fetch reads the disk, and so may the last ones
	// (the partial chunk at the log's end is never cached).
	if direct > 6 || hits < 20 {
		t.Errorf("%v fetches read from disk and %v from the read-ahead cache; want every fetch but each reader's first (and the log's last) from the cache", direct, hits)
	}
}

// TestDirectIOTailingConsumer: a consumer that keeps up with its producer
// gets every record, sent from the memory of the log's tail, and the broker
// reads next to nothing from the disk for it (the metrics).
func TestDirectIOTailingConsumer(t *testing.T) {
	b := startDirectBroker(t)
	createTopic(t, newAdmin(t, b.Addr()), "tail", 1, nil)
	cons := newClient(t, b.Addr(), kgo.ConsumeTopics("tail"), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	// Wait until the consumer has its position (the log end, 0) and polls.
	ctx := ctxT(t, 30*time.Second)
	cons.PollRecords(ctxT(t, 500*time.Millisecond), 1)
	before := scrapeMetrics(t, b.AdminAddr())
	prod := newClient(t, b.Addr(), kgo.DefaultProduceTopic("tail"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	const n, size = 100, 32 << 10 // 3.2 MB: the consumer moves through 4 chunks
	value := func(i int) []byte { return randomValue(i, size, 3) }
	for i := range n {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: value(i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < 1; {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset != int64(i) || !bytes.Equal(r.Value, value(i)) {
					t.Fatalf("got offset %d (%d bytes), want record %d", r.Offset, len(r.Value), i)
				}
				got++
			})
		}
	}
	after := scrapeMetrics(t, b.AdminAddr())
	delta := func(name string) float64 { return after[name] - before[name] }
	sent, read, tail := delta("streamd_fetch_bytes_total"), delta("streamd_fetch_disk_read_bytes_total"), delta("streamd_fetch_tail_hit_bytes_total")
	t.Logf("sent %v bytes of records to the consumer, %v of them from the tail's memory; read %v from the disk", sent, tail, read)
	if kept := after["streamd_tail_kept_chunks"]; kept < 1 || kept > 64 {
		t.Errorf("streamd_tail_kept_chunks = %v with a consumer at the log end; want 1-64 (4 MiB)", kept)
	}
	if sent < n*size || tail < 0.9*sent || read > 0.1*sent {
		t.Errorf("sent %v bytes, %v from the tail, and read %v from the disk; want at least 90%% from the tail and at most 10%% read", sent, tail, read)
	}
}

// TestDirectIOManyPartitions: one consumer of 8 partitions (as many as the
// read-ahead's memory holds chunks for at 8 each) gets every record, and
// after each partition's first fetch its fetches are answered from the
// read-ahead cache: chunks it has read are given up for new ones instead of
// stopping the read-ahead.
func TestDirectIOManyPartitions(t *testing.T) {
	b := startDirectBroker(t)
	const parts, perPart, size = 8, 160, 40 << 10 // 6.5 MB per partition
	createTopic(t, newAdmin(t, b.Addr()), "many", parts, nil)
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("many"), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range parts * perPart {
		r := &kgo.Record{Partition: int32(i % parts), Key: fmt.Appendf(nil, "%d", i), Value: randomValue(i, size, 4)}
		cl.Produce(ctxT(t, 30*time.Second), r, nil)
	}
	if err := cl.Flush(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	before := scrapeMetrics(t, b.AdminAddr())
	cons := newClient(t, b.Addr(), kgo.ConsumeTopics("many"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(1<<20))
	next := make([]int64, parts)
	ctx := ctxT(t, 60*time.Second)
	for got := 0; got < parts*perPart; {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d records: %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			i := int(r.Offset)*parts + int(r.Partition)
			if r.Offset != next[r.Partition] || string(r.Key) != fmt.Sprint(i) || !bytes.Equal(r.Value, randomValue(i, size, 4)) {
				t.Fatalf("partition %d: offset %d (want %d), key %q", r.Partition, r.Offset, next[r.Partition], r.Key)
			}
			next[r.Partition]++
			got++
		})
	}
	after := scrapeMetrics(t, b.AdminAddr())
	direct, hits := after["streamd_fetch_direct_reads_total"]-before["streamd_fetch_direct_reads_total"], after["streamd_fetch_readahead_hits_total"]-before["streamd_fetch_readahead_hits_total"]
	t.Logf("partition fetches read from disk: %v, answered from the read-ahead cache: %v", direct, hits)
	// Each partition's first fetch reads the disk, and so may its last ones
	// (the partial chunk at the log's end is never cached).
	if direct > 3*parts || hits < 4*parts {
		t.Errorf("%v partition fetches read from disk and %v from the read-ahead cache; want at most %d from disk", direct, hits, 3*parts)
	}
}
