package wasmhost

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
)

// BenchmarkLoadCached measures Runtime.Load when the module's machine code is in the
// on-disk compilation cache but not in memory, as after a broker restart: a fresh Runtime
// per iteration (created and closed outside the timing) over a warm cache directory. Load
// gets the metered module and the compiled code from the cache, has wazero decode and
// validate the module, starts the first instance (running the Go runtime's _initialize)
// and checks abi_version and plugin_kinds. "minimal" is testdata/minimal (2.0 MB, the SDK
// and a hash), "bench" testdata/bench (2.9 MB, with the assignor and partitioner packages).
func BenchmarkLoadCached(b *testing.B) {
	for _, name := range []string{"minimal", "bench"} {
		b.Run(name, func(b *testing.B) {
			wasm := BuildPlugin(b, name)
			cfg := Config{CacheDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}
			ctx := context.Background()
			warm, err := NewRuntime(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := warm.Load(ctx, name, wasm, KindPartitioner); err != nil {
				b.Fatal(err)
			}
			warm.Close(ctx)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				r, err := NewRuntime(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := r.Load(ctx, name, wasm, KindPartitioner); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				r.Close(ctx)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/load")
		})
	}
}

// BenchmarkMeter measures the metering rewrite alone (part of every Load).
func BenchmarkMeter(b *testing.B) {
	wasm := BuildPlugin(b, "bench")
	b.SetBytes(int64(len(wasm)))
	for b.Loop() {
		if _, err := meter(wasm, func(string) bool { return true }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstance measures starting pooled instances of a plugin and what
// each costs in memory once it has served a 1000-record partition call: guest linear
// memory (the Go guest's heap and stacks, in the host's heap as a byte slice) and the rest
// of the host heap the instance holds (wazero's module instance, the SDK's buffers are
// guest memory). The compiled machine code is shared by all instances of a module and not
// counted. ns/op is the time to start and warm up one instance.
func BenchmarkInstance(b *testing.B) {
	for _, name := range []string{"minimal", "bench"} {
		b.Run(name, func(b *testing.B) { benchmarkInstance(b, name) })
	}
}

func benchmarkInstance(b *testing.B, name string) {
	const n = 16
	wasm := BuildPlugin(b, name)
	r := newRuntime(b, Config{PoolSize: n + 1})
	ctx := context.Background()
	p, err := r.Load(ctx, name, wasm, KindPartitioner)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]Record, 1000)
	for i := range recs {
		recs[i].Key = []byte("0123456789abcdef")
	}
	out := make([]int32, len(recs))
	measured := false
	var heapPer, guestPer float64
	b.ResetTimer()
	for i := 0; i < b.N; i += n {
		// The pool holds the instance started by Load: take it so that all n are new.
		held := make([]*instance, 0, n)
		first, err := p.get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.put(first, false)
		var before runtime.MemStats
		if !measured {
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.StartTimer()
		}
		for range n {
			in, err := p.newInstance(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.slots <- struct{}{}
			p.idle <- in
			if err := p.PartitionInto(ctx, "t", 64, recs, out); err != nil {
				b.Fatal(err)
			}
			held = append(held, <-p.idle)
		}
		if !measured {
			b.StopTimer()
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			guest := 0.0
			for _, in := range held {
				guest += float64(in.mem.Size())
			}
			guestPer = guest / n
			heapPer = (float64(after.HeapAlloc) - float64(before.HeapAlloc) - guest) / n
			measured = true
			b.StartTimer()
		}
		for _, in := range held {
			p.put(in, false)
		}
	}
	b.ReportMetric(guestPer/(1<<20), "guest-MiB/instance")
	b.ReportMetric(heapPer/(1<<20), "host-MiB/instance")
}
