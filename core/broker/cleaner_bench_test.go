package broker_test

// Compaction benchmarks, skipped unless STREAMD_BENCH_CLEANER=1 (they write
// hundreds of MiB and take minutes). Results go to docs/benchmarks.md,
// "## Compaction".
//
//	STREAMD_BENCH_CLEANER=1 go test -run TestBenchCleaner -v -timeout 30m ./core/broker/
//
// STREAMD_BENCH_CLEANER_MB sets the data size (default 1024),
// STREAMD_BENCH_CLEANER_KEYS the key space (default 1,000,000),
// STREAMD_BENCH_CLEANER_IO the cleaner's I/O limit in bytes/s for the latency run
// (default 0: unlimited) and STREAMD_BENCH_CLEANER_CPU its
// log.cleaner.cpu.max.fraction (default: the broker's default).
// STREAMD_BENCH_CLEANER_DIRECT=1 makes the throughput run's log direct (as the broker's
// default). STREAMD_BENCH_CLEANER_NOFSYNC=1 turns the produce path's fsync off (to tell CPU from
// disk effects) and STREAMD_BENCH_CLEANER_TRACE=PREFIX writes Go execution traces of
// the first 3 s of the idle and cleaning windows.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/trace"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/bench"
	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/storage"
)

func benchCleanerEnv(t *testing.T) (sizeMB int64, keys int, io float64) {
	t.Helper()
	if os.Getenv("STREAMD_BENCH_CLEANER") != "1" {
		t.Skip("set STREAMD_BENCH_CLEANER=1 to run compaction benchmarks")
	}
	envInt := func(name string, def int64) int64 {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return n
		}
		return def
	}
	return envInt("STREAMD_BENCH_CLEANER_MB", 1024), int(envInt("STREAMD_BENCH_CLEANER_KEYS", 1_000_000)),
		float64(envInt("STREAMD_BENCH_CLEANER_IO", 0))
}

// TestBenchCleanerThroughput times one unthrottled storage.Log.Compact pass over
// STREAMD_BENCH_CLEANER_MB of uncompressed records (16-byte keys drawn uniformly from
// STREAMD_BENCH_CLEANER_KEYS, 200-byte random values, 50 per batch) in 128 MiB
// segments (an eighth of the data when that is smaller). The log goes through the
// page cache unless STREAMD_BENCH_CLEANER_DIRECT=1 (direct I/O, the broker's
// default): then the pass reads from the disk.
func TestBenchCleanerThroughput(t *testing.T) {
	sizeMB, keys, _ := benchCleanerEnv(t)
	segBytes := min(128<<20, sizeMB<<20/8)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := storage.Options{SegmentBytes: segBytes}
	var fl *storage.Flusher
	if os.Getenv("STREAMD_BENCH_CLEANER_DIRECT") == "1" { // as the broker's default log.direct.io
		fl = storage.NewFlusher(logger)
		defer fl.Close()
		opts.Fsync, opts.DirectIO = true, true
	}
	l, err := storage.Open(t.TempDir(), opts, fl, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now()
	var n int64
	for l.Size() < sizeMB<<20 {
		recs := make([]batch.Record, 50)
		for j := range recs {
			v := make([]byte, 200)
			for k := 0; k < len(v); k += 8 {
				u := rng.Uint64()
				for b := 0; b < 8; b++ {
					v[k+b] = byte(u >> (8 * b))
				}
			}
			recs[j] = batch.Record{Key: fmt.Appendf(nil, "key-%011d", rng.IntN(keys)), Value: v}
		}
		n += int64(len(recs))
		if _, err := l.Append(batch.Build(batch.BuildOptions{ProducerID: -1}, recs, time.Now().UnixMilli()), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %d MiB, %d records, %d segments in %v", l.Size()>>20, n, len(l.Segments()), time.Since(t0).Round(time.Millisecond))
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t0 = time.Now()
	res, err := l.Compact(storage.CompactOptions{})
	el := time.Since(t0)
	runtime.ReadMemStats(&ms1)
	if err != nil || !res.Cleaned {
		t.Fatalf("compact: %+v, %v", res, err)
	}
	t.Logf("compacted %d segments: %d MiB -> %d MiB in %v: %.0f MiB/s of cleanable log; %.1f MiB allocated",
		res.SegmentsCleaned, res.BytesBefore>>20, res.BytesAfter>>20, el.Round(time.Millisecond),
		float64(res.BytesBefore)/(1<<20)/el.Seconds(), float64(ms1.TotalAlloc-ms0.TotalAlloc)/(1<<20))
}

// TestBenchCleanerProduceLatency measures produce latency (acks=all, 1 KiB records,
// 5,000 records/s, 10 s) against an in-process broker, first idle, then while the
// cleaner compacts a STREAMD_BENCH_CLEANER_MB topic (64 MiB segments, or an eighth) of STREAMD_BENCH_CLEANER_KEYS
// keys. Cleaning is held back by min.compaction.lag.ms while the topic is filled and
// released by altering it to 0.
func TestBenchCleanerProduceLatency(t *testing.T) {
	sizeMB, keys, ioLimit := benchCleanerEnv(t)
	cpu := -1.0
	if v := os.Getenv("STREAMD_BENCH_CLEANER_CPU"); v != "" {
		var err error
		if cpu, err = strconv.ParseFloat(v, 64); err != nil {
			t.Fatalf("STREAMD_BENCH_CLEANER_CPU: %v", err)
		}
	}
	b := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) {
		c.LogRetentionCheckIntervalMs = 200
		if ioLimit > 0 {
			c.LogCleanerIoMaxBytesPerSecond = ioLimit
		}
		if cpu > 0 {
			c.LogCleanerCPUMaxFraction = cpu
		}
		if os.Getenv("STREAMD_BENCH_CLEANER_NOFSYNC") == "1" {
			c.LogFlushBeforeAck = false // no fsync on the produce path: CPU effects only
		}
		t.Logf("cleaner: log.cleaner.io.max.bytes.per.second %g, log.cleaner.cpu.max.fraction %g",
			c.LogCleanerIoMaxBytesPerSecond, c.LogCleanerCPUMaxFraction)
	}))
	addr := b.Addr()
	adm := newAdmin(t, addr)
	createTopic(t, adm, "cmp", 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr(strconv.FormatInt(min(64<<20, sizeMB<<20/8), 10)),
		"min.compaction.lag.ms": kadm.StringPtr("3600000"),
	})
	fill(t, addr, "cmp", sizeMB<<20, keys)

	measure := func(ctx context.Context, label string) bench.Result {
		res, err := bench.Produce(ctx, bench.ProduceConfig{
			Brokers: []string{addr}, Topic: "lat-" + label, Acks: -1, RecordSize: 1024,
			Duration: 10 * time.Second, RateLimit: 5000, Linger: -1,
		})
		if err != nil && ctx.Err() == nil {
			t.Fatalf("%s: %v", label, err)
		}
		t.Logf("%s: %v", label, res)
		return res
	}
	measure(context.Background(), "warmup")
	traceFirst3s(t, "idle")
	idle := measure(context.Background(), "idle")

	if _, err := adm.AlterTopicConfigs(ctxT(t, 10*time.Second), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "min.compaction.lag.ms", Value: kadm.StringPtr("0")},
	}, "cmp"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	var cleanedAfter time.Duration
	// The latency window ends when the pass does (or after 10 s): only latency
	// while the cleaner works is measured.
	passCtx, passDone := context.WithCancel(context.Background())
	defer passDone()
	wg.Go(func() {
		defer passDone()
		for {
			var ts struct {
				Partitions []struct {
					LastCleaned *string `json:"last_cleaned"`
				} `json:"partitions"`
			}
			resp, err := http.Get("http://" + b.AdminAddr() + "/v1/topics/cmp")
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&ts)
				resp.Body.Close()
			}
			if err == nil && ts.Partitions[0].LastCleaned != nil {
				cleanedAfter = time.Since(t0)
				return
			}
			if time.Since(t0) > 10*time.Minute {
				t.Error("cleaner did not finish a pass within 10 minutes")
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	time.Sleep(500 * time.Millisecond) // the next cleaner check starts the pass
	traceFirst3s(t, "cleaning")
	res := measure(passCtx, "cleaning")
	window := time.Since(t0)
	wg.Wait()
	t.Logf("cleaning pass finished %v after release; latency window 0.5s..%v (cleaner ran throughout: %t)",
		cleanedAfter.Round(100*time.Millisecond), window.Round(100*time.Millisecond), cleanedAfter+200*time.Millisecond >= window)
	// Idle again: this VM's disk drifts; a ratio is only meaningful when both idle
	// runs agree.
	after := measure(context.Background(), "idle-after")
	t.Logf("produce p99 while cleaning / idle before: %s / %s = %.2fx (p50 %.2fx, p99.9 %.2fx); idle after: %s (%.2fx)",
		bench.FormatLatency(res.P99), bench.FormatLatency(idle.P99), float64(res.P99)/float64(idle.P99),
		float64(res.P50)/float64(idle.P50), float64(res.P999)/float64(idle.P999),
		bench.FormatLatency(after.P99), float64(res.P99)/float64(after.P99))
}

// traceFirst3s writes a Go execution trace of the next 3 s to
// $STREAMD_BENCH_CLEANER_TRACE-<label>.trace when that variable is set (inspect with
// go tool trace -pprof=sched FILE).
func traceFirst3s(t *testing.T, label string) {
	prefix := os.Getenv("STREAMD_BENCH_CLEANER_TRACE")
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + "-" + label + ".trace")
	if err == nil {
		err = trace.Start(f)
	}
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	time.AfterFunc(3*time.Second, func() {
		trace.Stop()
		f.Close()
	})
}

// fill produces size bytes of 200-byte random values with keys drawn from keys.
func fill(t *testing.T, addr, topic string, size int64, keys int) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	defer cl.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		perr error
	)
	t0 := time.Now()
	for sent := int64(0); sent < size; sent += 230 {
		v := make([]byte, 200)
		for k := 0; k < len(v); k += 8 {
			u := rng.Uint64()
			for b := 0; b < 8; b++ {
				v[k+b] = byte(u >> (8 * b))
			}
		}
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Key: fmt.Appendf(nil, "key-%011d", rng.IntN(keys)), Value: v},
			func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					perr = err
					mu.Unlock()
				}
				wg.Done()
			})
	}
	wg.Wait()
	if perr != nil {
		t.Fatalf("fill: %v", perr)
	}
	t.Logf("filled %s with %d MiB in %v", topic, size>>20, time.Since(t0).Round(time.Millisecond))
}
