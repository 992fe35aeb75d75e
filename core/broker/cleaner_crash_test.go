package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCleanerSigkillMidPass SIGKILLs `streamd serve` while its throttled cleaner is
// rewriting segments of a compacted topic, three times, restarting in between. After
// each restart a consumer reading from the start must see, without error and with
// strictly increasing offsets, every key's latest acknowledged value.
func TestCleanerSigkillMidPass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the streamd binary")
	}
	const (
		topic  = "crashkv"
		keys   = 20
		rounds = 150 // per iteration: 3000 records of ~150 bytes, ~30 segments
	)
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	cfgFile := filepath.Join(root, "cleaner.toml")
	// Checks every 200 ms; ~300 KB/s of cleaner I/O makes a pass last seconds.
	if err := os.WriteFile(cfgFile, []byte(`"log.retention.check.interval.ms" = 200
"log.cleaner.io.max.bytes.per.second" = 300000
`), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	partDir := filepath.Join(dataDir, topic+"-0")
	latest := make([]int, keys) // latest acknowledged round per key

	for it := range 3 {
		c := startChild(t, dataDir, addr, "--config", cfgFile)
		if it == 0 {
			createTopic(t, newAdmin(t, addr), topic, 1, map[string]*string{
				"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("16384"),
				"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
			})
		} else {
			verifyCompacted(t, addr, topic, latest)
		}
		produceRounds(t, addr, topic, keys, it*rounds, rounds, latest)

		// Wait until the cleaner has been seen rewriting it+1 different segments.
		seen := map[string]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for len(seen) < it+1 {
			if time.Now().After(deadline) {
				ents, _ := os.ReadDir(partDir)
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Fatalf("iteration %d: cleaner not seen rewriting %d segments within 30s (saw %v; files %v):\n%s", it, it+1, seen, names, c.output())
			}
			ents, _ := os.ReadDir(partDir)
			for _, e := range ents {
				if n := e.Name(); strings.HasSuffix(n, ".cleaned") || strings.HasSuffix(n, ".swap") {
					seen[n[:strings.IndexByte(n, '.')]] = true
				}
			}
			time.Sleep(time.Millisecond)
		}
		c.kill()
		t.Logf("iteration %d: killed while cleaning (segments seen %v)", it, seen)
	}
	c := startChild(t, dataDir, addr, "--config", cfgFile)
	verifyCompacted(t, addr, topic, latest)
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
}

// produceRounds produces rounds×keys records (key k<i>, value "<round>:" plus
// padding) and waits until all are acknowledged, recording each key's last round.
func produceRounds(t *testing.T, addr, topic string, keys, first, rounds int, latest []int) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(4096))
	defer cl.Close()
	pad := strings.Repeat("x", 120)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		perr error
	)
	for r := first; r < first+rounds; r++ {
		for k := range keys {
			wg.Add(1)
			rec := &kgo.Record{Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "%d:%s", r, pad)}
			cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
				mu.Lock()
				if err != nil && perr == nil {
					perr = err
				}
				mu.Unlock()
				wg.Done()
			})
		}
	}
	wg.Wait()
	if perr != nil {
		t.Fatalf("produce: %v", perr)
	}
	for k := range latest {
		latest[k] = first + rounds - 1
	}
}

// verifyCompacted consumes topic from the start to its end offset and checks offsets
// strictly increase and every key's last value is its latest acknowledged round.
func verifyCompacted(t *testing.T, addr, topic string, latest []int) {
	t.Helper()
	ends, err := newAdmin(t, addr).ListEndOffsets(ctxT(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		t.Fatalf("end offset: %+v", end)
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	ctx := ctxT(t, 20*time.Second)
	got := map[string]string{}
	last, n := int64(-1), 0
	for last < end.Offset-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records up to offset %d of %d before timeout", n, last, end.Offset)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset <= last {
				t.Fatalf("offset %d after %d", r.Offset, last)
			}
			last = r.Offset
			n++
			v, _, _ := strings.Cut(string(r.Value), ":")
			got[string(r.Key)] = v
		})
	}
	for k, round := range latest {
		if g, w := got[fmt.Sprintf("k%d", k)], fmt.Sprint(round); g != w {
			t.Errorf("key k%d: latest value round %q, want %q", k, g, w)
		}
	}
	t.Logf("verified %d records up to offset %d", n, end.Offset)
}
