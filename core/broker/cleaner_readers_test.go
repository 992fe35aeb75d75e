package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// readerCheck follows what one consumer reads of one partition: offsets strictly
// increase (a reset may only move forward, to the log start), every record is one that
// was produced (its value names its key and sequence number), and on a compacted
// topic each key's sequence numbers increase.
type readerCheck struct {
	name    string
	last    int64
	lastSeq map[string]int
	n       int
}

func (c *readerCheck) record(r *kgo.Record) error {
	parts := strings.SplitN(string(r.Value), "|", 3)
	if r.Value == nil { // tombstone: the key names it
		parts = []string{string(r.Key), "-1"}
	}
	if len(parts) < 2 || parts[0] != string(r.Key) {
		return fmt.Errorf("%s: offset %d: value %.40q does not belong to key %q", c.name, r.Offset, r.Value, r.Key)
	}
	seq, err := strconv.Atoi(parts[1])
	if err != nil {
		return fmt.Errorf("%s: offset %d: value %.40q", c.name, r.Offset, r.Value)
	}
	if r.Offset <= c.last {
		return fmt.Errorf("%s: offset %d after %d", c.name, r.Offset, c.last)
	}
	if prev, ok := c.lastSeq[string(r.Key)]; ok && seq >= 0 && seq <= prev {
		return fmt.Errorf("%s: key %s: sequence %d at offset %d after %d", c.name, r.Key, seq, r.Offset, prev)
	}
	if seq >= 0 {
		c.lastSeq[string(r.Key)] = seq
	}
	c.last = r.Offset
	c.n++
	return nil
}

// TestReadersDuringRetentionAndCompaction: kgo consumers read a delete topic while
// retention and DeleteRecords remove its segments, a compacted topic while the cleaner
// rewrites its segments, and a compact,delete topic where both race for every sealed
// segment, from the start and while records are produced. A
// consumer with an auto.offset.reset (kgo's ConsumeResetOffset) sees no error at all;
// one without sees only OFFSET_OUT_OF_RANGE (and moves to the log start). Nobody sees a
// corrupt batch (kgo checks every CRC), an offset going back, or a record that was not
// produced.
func TestReadersDuringRetentionAndCompaction(t *testing.T) {
	b := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) { c.LogRetentionCheckIntervalMs = 100 }))
	addr := b.Addr()
	adm := newAdmin(t, addr)
	createTopic(t, adm, "rd-delete", 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("8192"), "retention.bytes": kadm.StringPtr("30000"),
	})
	createTopic(t, adm, "rd-compact", 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("8192"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"), "delete.retention.ms": kadm.StringPtr("0"),
	})
	createTopic(t, adm, "rd-both", 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact,delete"), "segment.bytes": kadm.StringPtr("8192"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"), "retention.ms": kadm.StringPtr("86400000"),
	})
	topics := []string{"rd-delete", "rd-compact", "rd-both"}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		errs     []error
		produced atomic.Bool // all records acknowledged
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
		cancel()
	}

	// Producer: keyed records of ~300 bytes (1 in 10 a tombstone on the compacted
	// topics), small batches so segments roll often.
	const perTopic = 2500
	wg.Go(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchMaxBytes(2048))
		if err != nil {
			fail(err)
			return
		}
		defer cl.Close()
		pad := strings.Repeat("p", 280)
		var pwg sync.WaitGroup
		for i := range perTopic {
			for _, topic := range topics {
				key := fmt.Sprintf("k%d", i%40)
				r := &kgo.Record{Topic: topic, Key: []byte(key), Value: fmt.Appendf(nil, "%s|%d|%s", key, i, pad)}
				if topic != "rd-delete" && i%10 == 9 {
					r.Value = nil
				}
				if topic == "rd-both" {
					// Older than retention.ms: retention deletes every segment as
					// soon as it is sealed, racing the cleaner for it.
					r.Timestamp = time.Now().Add(-48 * time.Hour)
				}
				pwg.Add(1)
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil && ctx.Err() == nil {
						fail(fmt.Errorf("produce: %w", err))
					}
					pwg.Done()
				})
			}
			time.Sleep(2 * time.Millisecond) // about 500 records/s per topic: a few seconds

		}
		// Last, a record of a key of its own: the latest of its key and not a
		// tombstone, so it survives compaction and tells readers they are done.
		for _, topic := range topics {
			pwg.Add(1)
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte("end"), Value: []byte("end|0")}, func(_ *kgo.Record, err error) {
				if err != nil && ctx.Err() == nil {
					fail(fmt.Errorf("produce: %w", err))
				}
				pwg.Done()
			})
		}
		pwg.Wait()
		produced.Store(true)
	})

	// DeleteRecords on the delete topic now and then, to just below the end.
	wg.Go(func() {
		for !produced.Load() && ctx.Err() == nil {
			time.Sleep(300 * time.Millisecond)
			ends, err := adm.ListEndOffsets(ctx, "rd-delete")
			if err != nil {
				continue
			}
			if e, _ := ends.Lookup("rd-delete", 0); e.Offset > 5 {
				if _, err := adm.DeleteRecords(ctx, kadm.Offsets{"rd-delete": {0: {Topic: "rd-delete", At: e.Offset - 5}}}); err != nil && ctx.Err() == nil {
					fail(fmt.Errorf("delete records: %w", err))
				}
			}
		}
	})

	// Readers: for each topic one with a reset offset (must see no error) and one
	// without (may see OFFSET_OUT_OF_RANGE only), both slowed down so they fall
	// behind the log start now and then.
	for _, topic := range topics {
		for _, reset := range []bool{true, false} {
			name := fmt.Sprintf("%s/reset=%v", topic, reset)
			wg.Go(func() {
				// Start once a third is written: the reader then reads segments
				// the cleaner and retention have been working on, and keeps
				// reading while they go on.
				for ctx.Err() == nil && endOffsetCtx(ctx, adm, topic) < perTopic/3 {
					time.Sleep(20 * time.Millisecond)
				}
				opts := []kgo.Opt{kgo.SeedBrokers(addr),
					kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
					kgo.FetchMaxBytes(2048), kgo.FetchMaxPartitionBytes(2048)}
				if reset {
					opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
				} else {
					opts = append(opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
				}
				cl, err := kgo.NewClient(opts...)
				if err != nil {
					fail(err)
					return
				}
				defer cl.Close()
				chk := &readerCheck{name: name, last: -1, lastSeq: map[string]int{}}
				oor := 0
				for ctx.Err() == nil {
					fs := cl.PollFetches(ctx)
					if ctx.Err() != nil {
						return
					}
					for _, fe := range fs.Errors() {
						if reset || !errors.Is(fe.Err, kerr.OffsetOutOfRange) {
							fail(fmt.Errorf("%s: fetch error: %w", name, fe.Err))
							return
						}
						oor++
						start := startOffsetCtx(ctx, adm, topic)
						if start <= chk.last {
							fail(fmt.Errorf("%s: OFFSET_OUT_OF_RANGE at %d but the log starts at %d", name, chk.last+1, start))
							return
						}
						cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {0: {Epoch: -1, Offset: start}}})
					}
					var rerr error
					done := false
					fs.EachRecord(func(r *kgo.Record) {
						if rerr == nil {
							rerr = chk.record(r)
						}
						done = done || string(r.Key) == "end"
					})
					if rerr != nil {
						fail(rerr)
						return
					}
					if done {
						t.Logf("%s: read %d records up to offset %d, %d OFFSET_OUT_OF_RANGE", name, chk.n, chk.last, oor)
						// Make sure the test exercised what it is about.
						if name == "rd-delete/reset=false" && oor == 0 {
							fail(errors.New("rd-delete/reset=false never fell below the log start"))
						}
						if topic == "rd-compact" && chk.n > perTopic {
							fail(fmt.Errorf("%s read all %d records: it never read a compacted segment", name, chk.n))
						}
						return
					}
					time.Sleep(40 * time.Millisecond) // far slower than the producer: falls behind
				}
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) == 0 && ctx.Err() != nil {
		t.Fatal("readers did not reach the end within 90s")
	}
	// Segments were really removed and rewritten meanwhile.
	m := scrapeMetrics(t, b.AdminAddr())
	if m[`streamd_cleaner_reclaimed_bytes_total{partition="0",topic="rd-compact"}`] == 0 {
		t.Error("the cleaner never compacted rd-compact")
	}
	if startOffset(t, adm, "rd-delete") == 0 || startOffset(t, adm, "rd-both") == 0 {
		t.Error("retention never moved the log start")
	}
}

func startOffsetCtx(ctx context.Context, adm *kadm.Client, topic string) int64 {
	los, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return -1
	}
	o, _ := los.Lookup(topic, 0)
	return o.Offset
}

func endOffsetCtx(ctx context.Context, adm *kadm.Client, topic string) int64 {
	los, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return -1
	}
	o, _ := los.Lookup(topic, 0)
	return o.Offset
}
