//go:build !wasip1

package partitioner_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
	"github.com/streamd/streamd/core/wasmhost"
	"github.com/streamd/streamd/partitioner"
)

// fnv1a is the 32-bit FNV-1a hash the misbehave test plugin places keyed records by.
func fnv1a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

// source is a PluginSource over one plugin that counts calls in flight.
type source struct {
	p        *wasmhost.Plugin
	mu       sync.Mutex
	acquired int
	inFlight int
}

func (s *source) Acquire(name string, kind wasmhost.Kind) (*wasmhost.Plugin, func(), error) {
	if name != s.p.Name() {
		return nil, nil, fmt.Errorf("no plugin %q", name)
	}
	if kind != s.p.Kind() {
		return nil, nil, fmt.Errorf("plugin %q is a %s", name, s.p.Kind())
	}
	s.mu.Lock()
	s.acquired++
	s.inFlight++
	s.mu.Unlock()
	return s.p, func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }, nil
}

func loadMisbehave(t *testing.T, cfg wasmhost.Config) *wasmhost.Plugin {
	t.Helper()
	wasm := wasmbuildtest.Module(t, "../plugins/testdata/misbehave")
	cfg.CacheDir = wasmbuildtest.CompileCache(t)
	cfg.Logger = slog.New(slog.DiscardHandler)
	rt, err := wasmhost.NewRuntime(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	p, err := rt.Load(context.Background(), "mis", wasm, wasmhost.KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWasmPartitioner(t *testing.T) {
	src := &source{p: loadMisbehave(t, wasmhost.Config{CallTimeout: 3 * time.Second})}
	w := partitioner.Wasm("mis", src)
	if w.Name() != "wasm:mis" {
		t.Fatalf("name %q", w.Name())
	}
	if d, ok := w.(partitioner.Deterministic); !ok || !d.Deterministic(partitioner.Record{}) {
		t.Fatal("a wasm partitioner must be deterministic for every record")
	}
	recs := make([]partitioner.Record, 500)
	for i := range recs {
		recs[i] = partitioner.Record{Key: []byte(fmt.Sprintf("k%d", i)), Headers: []partitioner.Header{{Key: "h", Value: []byte("v")}}}
	}
	out := make([]int32, len(recs))
	if err := w.Partition("orders", 12, recs, out); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if out[i] != int32(fnv1a(r.Key)%12) {
			t.Fatalf("record %d: %d, want %d", i, out[i], fnv1a(r.Key)%12)
		}
	}
	for _, tc := range []struct{ topic, msg string }{
		{"loop", "deadline exceeded"},
		{"panic", "guest panicked: misbehave: panic on purpose for topic panic"},
		{"garbage", "partition result: 250 partitions for 500 records"},
		{"range", "partition 12 out of range [0,12)"},
	} {
		err := w.Partition(tc.topic, 12, recs, out)
		if err == nil || !strings.Contains(err.Error(), `partitioner: wasm:mis: wasmhost: plugin "mis": partition: `) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("topic %s: %v, want %q", tc.topic, err, tc.msg)
		}
	}
	// Still healthy after the failures.
	if err := w.Partition("orders", 12, recs[:3], out); err != nil {
		t.Fatal(err)
	}
	if err := partitioner.Wasm("other", src).Partition("orders", 12, recs, out); err == nil || !strings.Contains(err.Error(), `no plugin "other"`) {
		t.Fatalf("unknown plugin: %v", err)
	}
	if err := w.Partition("orders", 0, recs, out); !errors.Is(err, partitioner.ErrPartitionCount) {
		t.Fatalf("n=0: %v", err)
	}
	if src.inFlight != 0 || src.acquired != 6 {
		t.Fatalf("acquired %d, in flight %d; want 6, 0", src.acquired, src.inFlight)
	}
}

func TestKgoAdapter(t *testing.T) {
	p := loadMisbehave(t, wasmhost.Config{CallTimeout: 30 * time.Second})
	k := partitioner.NewKgo(partitioner.WasmPlugin(p))
	tp := k.ForTopic("orders")
	r := &kgo.Record{Key: []byte("alice"), Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("b")}}}
	if !tp.RequiresConsistency(r) {
		t.Fatal("records must require consistency")
	}
	if got := tp.Partition(r, 7); got != int(fnv1a(r.Key)%7) {
		t.Fatalf("partition %d, want %d", got, fnv1a(r.Key)%7)
	}
	if k.Err() != nil {
		t.Fatal(k.Err())
	}
	if got := k.ForTopic("range-x").Partition(r, 7); got != -1 {
		t.Fatalf("failing plugin: partition %d, want -1", got)
	}
	if err := k.Err(); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("Err() = %v", err)
	}
	// Built-ins too: murmur2 as the Java client.
	m := partitioner.NewKgo(partitioner.Murmur2()).ForTopic("t")
	if got := m.Partition(&kgo.Record{Key: []byte("foobar")}, 64); got != 62 {
		t.Fatalf("murmur2 via kgo: %d, want 62", got)
	}
}

func TestDeterministicBuiltins(t *testing.T) {
	keyed, keyless, empty := partitioner.Record{Key: []byte("k")}, partitioner.Record{}, partitioner.Record{Key: []byte{}}
	for _, tc := range []struct {
		name                  string
		keyed, keyless, empty bool
	}{
		{"murmur2", true, false, true},
		{"sticky", true, false, true},
		{"consistent-random", true, false, false},
	} {
		p, _ := partitioner.ByName(tc.name)
		d := p.(partitioner.Deterministic)
		if d.Deterministic(keyed) != tc.keyed || d.Deterministic(keyless) != tc.keyless || d.Deterministic(empty) != tc.empty {
			t.Errorf("%s: deterministic keyed/keyless/empty = %v/%v/%v", tc.name, d.Deterministic(keyed), d.Deterministic(keyless), d.Deterministic(empty))
		}
	}
	if _, ok := partitioner.RoundRobin().(partitioner.Deterministic); ok {
		t.Error("round-robin claims to be deterministic")
	}
}

// TestWasmPartitionerChunks: a batch larger than one call's chunk is placed in several
// calls, all on the same version, with every record placed.
func TestWasmPartitionerChunks(t *testing.T) {
	src := &source{p: loadMisbehave(t, wasmhost.Config{CallTimeout: 20 * time.Second})}
	w := partitioner.Wasm("mis", src)
	recs := make([]partitioner.Record, 20000)
	big := make([]byte, 256<<10)
	for i := range recs {
		recs[i] = partitioner.Record{Key: []byte(fmt.Sprintf("k%d", i))}
	}
	for i := 0; i < 10; i++ {
		recs[i].Value = big // 2.5 MiB in the first records: chunks by size too
	}
	out := make([]int32, len(recs))
	if err := w.Partition("orders", 9, recs, out); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if out[i] != int32(fnv1a(r.Key)%9) {
			t.Fatalf("record %d: %d, want %d", i, out[i], fnv1a(r.Key)%9)
		}
	}
	if src.acquired != 1 || src.inFlight != 0 {
		t.Fatalf("acquired %d, in flight %d; want one acquisition for the whole batch", src.acquired, src.inFlight)
	}
}
