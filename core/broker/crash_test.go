package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/streamd/streamd/core/batch"
)

type acked struct {
	part  int32
	off   int64
	value string
}

// TestCrashKeepsAcknowledgedRecords kills the broker with SIGKILL while an acks=all
// producer runs, restarts it, and checks that every acknowledged record is there at its
// offset, offsets are contiguous, and every served batch passes its CRC. Three cycles.
func TestCrashKeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the streamd binary")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := freePort(t)
	var (
		mu  sync.Mutex // guards all, across every cycle's producer callbacks
		all []acked
	)
	var logs strings.Builder
	defer func() {
		if t.Failed() {
			t.Logf("broker logs:\n%s", logs.String())
		}
	}()
	cycles, runFor := 3, 1500*time.Millisecond
	if n, err := strconv.Atoi(os.Getenv("STREAMD_CRASH_CYCLES")); err == nil && n > 0 {
		cycles, runFor = n, 700*time.Millisecond // soak: go test -run TestCrash with STREAMD_CRASH_CYCLES=50
	}
	for cycle := range cycles {
		c := startChild(t, dataDir, addr)
		defer func() { logs.WriteString(fmt.Sprintf("--- cycle %d\n%s", cycle, c.output())) }()
		if cycle == 0 {
			adm := newAdmin(t, addr)
			createTopic(t, adm, "crash", 3, nil)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("crash"),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Millisecond),
			kgo.RecordRetries(0), kgo.RecordDeliveryTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg, callbacks sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				v := fmt.Sprintf("c%d-%07d-%s", cycle, i, strings.Repeat("x", 200))
				callbacks.Add(1)
				cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
					defer callbacks.Done()
					if err == nil {
						mu.Lock()
						all = append(all, acked{r.Partition, r.Offset, string(r.Value)})
						mu.Unlock()
					}
				})
			}
		}()
		time.Sleep(runFor)
		c.kill() // SIGKILL mid-stream
		cancel()
		wg.Wait()
		cl.Close()
		callbacks.Wait() // every promise of this cycle has run before the next starts
	}
	mu.Lock()
	n := len(all)
	mu.Unlock()
	if n < 100 {
		t.Fatalf("only %d records acknowledged: producer did not run", n)
	}
	c := startChild(t, dataDir, addr)
	defer c.stop()
	byOffset := readAllRaw(t, addr, "crash", 3)
	for _, a := range all {
		got, ok := byOffset[a.part][a.off]
		if !ok {
			t.Fatalf("acknowledged record %d/%d (%s…) lost after crash", a.part, a.off, a.value[:12])
		}
		if got != a.value {
			t.Fatalf("record %d/%d = %s…, acknowledged %s…", a.part, a.off, got[:12], a.value[:12])
		}
	}
	t.Logf("%d acknowledged records all present after 3 SIGKILLs", len(all))
}

// readAllRaw fetches every partition from offset 0 with raw Fetch requests, checks the
// CRC of every batch and that offsets are contiguous, and returns values by offset.
func readAllRaw(t *testing.T, addr, topic string, parts int32) map[int32]map[int64]string {
	t.Helper()
	cl := newClient(t, addr, kgo.MaxVersions(kversion.V3_0_0())) // fetch by topic name
	out := map[int32]map[int64]string{}
	for p := range parts {
		out[p] = map[int64]string{}
		next := int64(0)
		for {
			req := kmsg.NewPtrFetchRequest()
			req.Version = 11
			req.MaxBytes = 4 << 20
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, next, 4<<20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
			if err != nil {
				t.Fatal(err)
			}
			sp := resp.Topics[0].Partitions[0]
			if sp.ErrorCode != 0 {
				t.Fatalf("fetch %d@%d: error %d", p, next, sp.ErrorCode)
			}
			if len(sp.RecordBatches) == 0 {
				if next != sp.HighWatermark {
					t.Fatalf("partition %d: reading stopped at %d, high watermark %d", p, next, sp.HighWatermark)
				}
				break
			}
			valid, err := batch.Scan(sp.RecordBatches, func(_ int, h batch.Header) bool { return true })
			if err != nil || valid != len(sp.RecordBatches) {
				t.Fatalf("partition %d: served batch fails CRC/framing at byte %d of %d: %v", p, valid, len(sp.RecordBatches), err)
			}
			for _, bb := range mustSplit(t, sp.RecordBatches) {
				h, recs, err := batch.Records(bb)
				if err != nil {
					t.Fatal(err)
				}
				if h.BaseOffset != next {
					t.Fatalf("partition %d: batch at %d, want %d (contiguous)", p, h.BaseOffset, next)
				}
				for _, r := range recs {
					out[p][h.BaseOffset+int64(r.OffsetDelta)] = string(r.Value)
				}
				next = h.LastOffset() + 1
			}
		}
	}
	return out
}

func mustSplit(t *testing.T, b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		h, err := batch.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[:h.TotalSize()])
		b = b[h.TotalSize():]
	}
	return out
}
