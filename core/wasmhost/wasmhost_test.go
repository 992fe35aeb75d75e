package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fnv1a is the 32-bit FNV-1a hash the test plugins place keyed records by.
func fnv1a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

func records(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Timestamp: int64(i), Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte("v"),
			Headers: []Header{{Key: "h", Value: []byte("x")}}}
	}
	return recs
}

func checkHash(t *testing.T, p *Plugin, recs []Record, n int32) {
	t.Helper()
	got, err := p.Partition(context.Background(), "orders", n, recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("got %d partitions for %d records", len(got), len(recs))
	}
	for i, r := range recs {
		if want := int32(fnv1a(r.Key) % uint32(n)); got[i] != want {
			t.Fatalf("record %d (key %q): partition %d, want %d", i, r.Key, got[i], want)
		}
	}
}

func TestPartitionHash(t *testing.T) {
	p := load(t, Config{}, KindPartitioner)
	recs := records(1000)
	recs[3].Key = nil // null key hashes like an empty one in this plugin
	checkHash(t, p, recs, 12)
	checkHash(t, p, nil, 3) // empty batch
	if _, err := p.Transform(context.Background(), "t", 0, recs); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Transform on a partitioner: %v, want ErrNotSupported", err)
	}
}

func TestTransform(t *testing.T) {
	p := load(t, Config{}, KindTransform)
	in := []Record{
		{Timestamp: 7, Key: []byte("a"), Value: []byte("hello")},
		{Timestamp: 8, Key: []byte("drop"), Value: []byte("gone")},
		{Timestamp: 9, Key: nil, Value: nil, Headers: []Header{{Key: "k", Value: nil}}},
	}
	got, err := p.Transform(context.Background(), "src", 2, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{Timestamp: 7, Key: []byte("a"), Value: []byte("HELLO"), Headers: []Header{{Key: "via", Value: []byte("src")}}},
		{Timestamp: 9, Key: nil, Value: []byte{}, Headers: []Header{{Key: "k", Value: nil}, {Key: "via", Value: []byte("src")}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("transform:\n got %+v\nwant %+v", got, want)
	}
}

func TestAssign(t *testing.T) {
	p := load(t, Config{}, KindAssignor)
	spec := GroupSpec{Group: "g", Members: []Member{{ID: "m1", Topics: []string{"a", "b"}}, {ID: "m2", Topics: []string{"a", "b"}}},
		Topics: map[string]int32{"a": 3, "b": 1}}
	got, err := p.Assign(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	want := Assignment{
		Members: map[string]map[string][]int32{
			"m1": {"a": {0, 2}},
			"m2": {"a": {1}, "b": {0}},
		},
		Lists: map[string][]TopicPartition{
			"m1": {{"a", 0}, {"a", 2}},
			"m2": {{"a", 1}, {"b", 0}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("assign: got %v, want %v", got, want)
	}
	if _, err := p.Assign(context.Background(), GroupSpec{Group: "g"}); !errors.Is(err, ErrGuestFailed) || !strings.Contains(err.Error(), "no members") {
		t.Fatalf("assign with no members: %v, want ErrGuestFailed with the guest's message", err)
	}
}

// TestGuestFailures checks each way a guest can fail: the error names the plugin and the
// failure, and the plugin keeps serving the next call.
func TestGuestFailures(t *testing.T) {
	p := load(t, Config{CallTimeout: 300 * time.Millisecond, MemoryLimitBytes: 16 << 20}, KindPartitioner)
	recs := records(4)
	for _, tc := range []struct {
		topic string
		want  error
		text  string
	}{
		{"panic", ErrGuestPanic, "boom: key-0"},
		{"fail", ErrGuestFailed, "refused"},
		{"range", ErrBadResult, "partition 5 out of range [0,5)"},
		{"oom", ErrOutOfMemory, "limit 16 MiB"},
		{"loop", ErrTimeout, "exceeded 300ms"},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			start := time.Now()
			_, err := p.Partition(context.Background(), tc.topic, 5, recs)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, `plugin "multi"`) || !strings.Contains(msg, tc.text) {
				t.Fatalf("error %q does not name the plugin and %q", msg, tc.text)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("failure took %v", d)
			}
			checkHash(t, p, recs, 5)
		})
	}
}

// TestLoopDoesNotBlockOthers runs a spinning call while other calls proceed.
func TestLoopDoesNotBlockOthers(t *testing.T) {
	// The call deadline is long, so the looping call is certainly still running while
	// the healthy calls are made; cancelling its context then stops it.
	p := load(t, Config{CallTimeout: time.Minute, PoolSize: 2}, KindPartitioner)
	recs := records(10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := p.Partition(ctx, "loop", 4, recs)
		errc <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); len(p.slots) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("looping call never took an instance")
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	for i := 0; i < 5; i++ {
		checkHash(t, p, recs, 4)
	}
	select {
	case err := <-errc:
		t.Fatalf("looping call ended before it was cancelled: %v", err)
	default:
	}
	cancel()
	if err := <-errc; !errors.Is(err, ErrCanceled) {
		t.Fatalf("looping call: %v, want ErrCanceled", err)
	}
}

func TestPoolBoundedAndConcurrent(t *testing.T) {
	p := load(t, Config{PoolSize: 2}, KindPartitioner)
	recs := records(100)
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				checkHash(t, p, recs, 7)
			}
		}()
	}
	wg.Wait()
	if n := len(p.idle); n < 1 || n > 2 {
		t.Fatalf("%d idle instances, want 1..2", n)
	}
	// A caller waiting for an instance honours its context.
	p.slots <- struct{}{}
	p.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Partition(ctx, "t", 2, recs); !errors.Is(err, ErrCanceled) {
		t.Fatalf("full pool: %v, want ErrCanceled", err)
	}
	<-p.slots
	<-p.slots
}

func TestClose(t *testing.T) {
	r := newRuntime(t, Config{})
	p, err := r.Load(context.Background(), "multi", multiWasm(t), KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := p.Partition(context.Background(), "t", 2, records(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	r.Close(context.Background())
	if _, err := r.Load(context.Background(), "multi", multiWasm(t), KindPartitioner); !errors.Is(err, ErrClosed) {
		t.Fatalf("Load after runtime Close: %v, want ErrClosed", err)
	}
}

func TestLoadRejects(t *testing.T) {
	multi := multiWasm(t)
	for _, tc := range []struct {
		name string
		wasm []byte
		cfg  Config
		want string
	}{
		{"garbage", []byte("not wasm"), Config{}, "not a WebAssembly module"},
		{"too large", multi, Config{MaxModuleBytes: 1 << 20}, "limit 1048576"},
		{"forbidden import", fakeModule{importEvil: true, abi: 2, kinds: 1}.bytes(), Config{}, "import env.evil is not allowed"},
		{"missing export", fakeModule{abi: 2, kinds: 1, skip: "partition"}.bytes(), Config{}, `missing export "partition" required for a partitioner`},
		{"wrong abi", fakeModule{abi: 1, kinds: 1}.bytes(), Config{}, "abi_version 1, host supports 2"},
		{"kind not registered", fakeModule{abi: 2, kinds: 2}.bytes(), Config{}, "does not register a partitioner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t, tc.cfg)
			_, err := r.Load(context.Background(), "bad", tc.wasm, KindPartitioner)
			if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want ErrInvalidModule containing %q", err, tc.want)
			}
		})
	}
	// The hand-written module is otherwise acceptable: it proves other toolchains can
	// satisfy the load checks.
	r := newRuntime(t, Config{MemoryLimitBytes: 1}) // raised to the 4 MiB minimum
	if _, err := r.Load(context.Background(), "fake", fakeModule{abi: 2, kinds: 1}.bytes(), KindPartitioner); err != nil {
		t.Fatalf("valid hand-written module rejected: %v", err)
	}
}

// BenchmarkPartition1000 measures one 1000-record batch call through the whole path
// (pool, encode, copy in, guest decode + FNV hash, result checks).
func BenchmarkPartition1000(b *testing.B) {
	p := load(b, Config{}, KindPartitioner)
	ctx := context.Background()
	for _, bc := range []struct {
		name    string
		topic   string
		headers bool
	}{
		{"hash/1-header", "orders", true},
		{"hash/no-headers", "orders", false},
		{"decode-only/no-headers", "zero", false},
	} {
		recs := records(1000)
		if !bc.headers {
			for i := range recs {
				recs[i].Headers = nil
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := p.Partition(ctx, bc.topic, 16, recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}

// TestGrants: plugins see no environment and a fake clock unless the configuration grants
// them.
func TestGrants(t *testing.T) {
	see := func(cfg Config) (env string, now time.Time) {
		t.Helper()
		p := load(t, cfg, KindTransform)
		out, err := p.Transform(context.Background(), "grants", 0, nil)
		if err != nil || len(out) != 2 {
			t.Fatalf("transform: %v, %v", out, err)
		}
		ms, err := strconv.ParseInt(string(out[1].Value), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return string(out[0].Value), time.UnixMilli(ms)
	}
	env, now := see(Config{})
	if env != "" || time.Since(now).Abs() < 24*time.Hour {
		t.Fatalf("without grants the plugin saw env %q and time %v", env, now)
	}
	env, now = see(Config{WallClock: true, Env: map[string]string{"STREAMD_TEST_ENV": "granted"}, CryptoRandom: true})
	if env != "granted" || time.Since(now).Abs() > time.Hour {
		t.Fatalf("with grants the plugin saw env %q and time %v", env, now)
	}
}

// TestSameModuleTwice: two plugins of the same module (a hot swap to identical bytes, or
// one module under two names) share compiled code; closing one leaves the other able to
// start new instances.
func TestSameModuleTwice(t *testing.T) {
	r := newRuntime(t, Config{})
	ctx := context.Background()
	a, err := r.Load(ctx, "a", multiWasm(t), KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Load(ctx, "b", multiWasm(t), KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	// A recovered panic discards b's instance: the next call must start a new one.
	if _, err := b.Partition(ctx, "panic", 3, records(2)); !errors.Is(err, ErrGuestPanic) {
		t.Fatalf("got %v, want ErrGuestPanic", err)
	}
	checkHash(t, b, records(10), 3)
}
