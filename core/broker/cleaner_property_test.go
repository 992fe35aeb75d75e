package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// written is one record a property test produced.
type written struct {
	key, value string
	tomb       bool
}

// TestCompactionPropertyKgo is the compaction property test through real clients: for
// random sequences of keyed writes and tombstones (kgo producer, random compression and
// batching), once the cleaner has compacted everything written, a consumer reading
// from the start gets an in-order subsequence of what was written that holds every
// key's latest value exactly once, and nothing of a key whose tombstone is older than
// delete.retention.ms (0 here); with a long delete.retention.ms the tombstones stay.
func TestCompactionPropertyKgo(t *testing.T) {
	b := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) { c.LogRetentionCheckIntervalMs = 100 }))
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	codecNames := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	run := 0
	for seed := uint64(1); seed <= 3; seed++ {
		for _, tombsGone := range []bool{true, false} {
			ci := run % len(codecs) // every codec in turn
			run++
			t.Run(fmt.Sprintf("seed%d/tombsGone=%v/%s", seed, tombsGone, codecNames[ci]), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 99))
				topic := fmt.Sprintf("prop-%d-%v", seed, tombsGone)
				segBytes := 1024 + rng.IntN(3072)
				drm := "86400000"
				if tombsGone {
					drm = "0"
				}
				adm := newAdmin(t, b.Addr())
				createTopic(t, adm, topic, 1, map[string]*string{
					"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr(strconv.Itoa(segBytes)),
					"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"), "delete.retention.ms": kadm.StringPtr(drm),
				})
				codec := codecs[ci]
				// Batches of at most half a segment, so segments hold several.
				cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec),
					kgo.ProducerLinger(time.Duration(rng.IntN(3))*time.Millisecond), kgo.ProducerBatchMaxBytes(int32(max(512, segBytes/2))))
				keys := 3 + rng.IntN(30)
				n := 300 + rng.IntN(400)
				recs := make([]*kgo.Record, 0, n)
				for i := range n {
					k := fmt.Sprintf("key-%d", rng.IntN(keys))
					r := &kgo.Record{Key: []byte(k)}
					if rng.IntN(5) != 0 {
						r.Value = fmt.Appendf(nil, "v%d-%s-%x", i, k, rng.Uint32())
					}
					recs = append(recs, r)
				}
				wrote := produceAll(t, cl, recs)
				// Then filler of keys of their own, so that everything above ends in
				// sealed, cleanable segments.
				var fill []*kgo.Record
				for i := 0; i < 2*segBytes/20+2; i++ {
					fill = append(fill, &kgo.Record{Key: fmt.Appendf(nil, "fill-%d", i), Value: []byte("filler-record-padding")})
				}
				for o, w := range produceAll(t, cl, fill) {
					wrote[o] = w
				}
				recs = append(recs, fill...)

				waitFullyCompacted(t, b.AdminAddr(), topic)
				got := consumeAll(t, b.Addr(), topic, int64(len(recs)))

				latest := map[string]int64{}
				for off, w := range wrote {
					if cur, ok := latest[w.key]; !ok || off > cur {
						latest[w.key] = off
					}
				}
				seen := map[string]int{}
				prev := int64(-1)
				for _, r := range got {
					w, ok := wrote[r.Offset]
					if !ok || w.key != string(r.Key) || w.value != string(r.Value) || w.tomb != (r.Value == nil) {
						t.Fatalf("read offset %d %q=%q, wrote %+v", r.Offset, r.Key, r.Value, w)
					}
					if r.Offset <= prev {
						t.Fatalf("offset %d after %d", r.Offset, prev)
					}
					prev = r.Offset
					if seen[w.key]++; seen[w.key] > 1 {
						t.Fatalf("key %q twice after compaction (offset %d)", w.key, r.Offset)
					}
					if latest[w.key] != r.Offset {
						t.Fatalf("key %q: offset %d read, its latest is %d", w.key, r.Offset, latest[w.key])
					}
				}
				tombs := 0
				for k, off := range latest {
					if wrote[off].tomb && tombsGone {
						if seen[k] != 0 {
							t.Fatalf("deleted key %q still there", k)
						}
						tombs++
						continue
					}
					if seen[k] != 1 {
						t.Fatalf("latest record of %q (offset %d, tombstone %v) lost", k, off, wrote[off].tomb)
					}
				}
				t.Logf("%d records (%d keys, then %d filler), %d after compaction, %d keys deleted", len(recs), keys, len(fill), len(got), tombs)
			})
		}
	}
}

// produceAll produces recs in order (asynchronously, so they batch) and returns what
// each acknowledged offset holds.
func produceAll(t *testing.T, cl *kgo.Client, recs []*kgo.Record) map[int64]written {
	t.Helper()
	out := make(map[int64]written, len(recs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var perr error
	for _, r := range recs {
		wg.Add(1)
		cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				perr = err
				return
			}
			out[r.Offset] = written{key: string(r.Key), value: string(r.Value), tomb: r.Value == nil}
		})
	}
	wg.Wait()
	if perr != nil {
		t.Fatalf("produce: %v", perr)
	}
	return out
}

// waitFullyCompacted polls the admin API until partition 0 of topic has been cleaned
// and nothing sealed is dirty.
func waitFullyCompacted(t *testing.T, adminAddr, topic string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			Partitions []struct {
				DirtyRatio  *float64 `json:"dirty_ratio"`
				LastCleaned *string  `json:"last_cleaned"`
				Segments    int      `json:"segments"`
				End         int64    `json:"log_end_offset"`
				HWM         int64    `json:"high_watermark"`
			} `json:"partitions"`
		}
		resp, err := http.Get("http://" + adminAddr + "/v1/topics/" + topic)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		if err == nil && len(st.Partitions) == 1 && st.Partitions[0].LastCleaned != nil &&
			st.Partitions[0].DirtyRatio != nil && *st.Partitions[0].DirtyRatio == 0 {
			return
		}
		if time.Now().After(deadline) {
			if err == nil && len(st.Partitions) == 1 && st.Partitions[0].DirtyRatio != nil {
				t.Fatalf("%s not fully compacted after 30s (%+v, dirty ratio %v)", topic, st.Partitions[0], *st.Partitions[0].DirtyRatio)
			}
			t.Fatalf("%s not fully compacted after 30s (%v, %+v)", topic, err, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consumeAll reads partition 0 of topic from the start up to offset end-1, failing on
// any fetch error.
func consumeAll(t *testing.T, addr, topic string, end int64) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	ctx := ctxT(t, 20*time.Second)
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records of %s (want up to offset %d) before timeout", len(out), topic, end-1)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}
