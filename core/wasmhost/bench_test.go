package wasmhost_test

// Benchmarks of issue 4 §8 (commands and results in docs/benchmarks.md, "Partitioners and
// Wasm"): the Wasm partitioner against the native murmur2, the Wasm assignor against the
// built-in one, and plugin load time. testdata/bench implements the same strategies as
// the built-ins, against the SDK; the tests below check that they agree record for record.

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/streamd/streamd/assignor"
	"github.com/streamd/streamd/core/wasmhost"
	"github.com/streamd/streamd/partitioner"
)

func loadBench(tb testing.TB, kind wasmhost.Kind) *wasmhost.Plugin {
	tb.Helper()
	wasm := wasmhost.BuildPlugin(tb, "bench")
	r, err := wasmhost.NewRuntime(context.Background(), wasmhost.Config{
		CacheDir: wasmhost.SharedCacheDir(), Logger: slog.New(slog.DiscardHandler), PoolSize: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close(context.Background()) })
	p, err := r.Load(context.Background(), "bench", wasm, kind)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// keyBatch returns n records with random 16-byte keys (small values, no headers), in the
// partitioner's and the host's record types.
func keyBatch(n int, seed uint64) ([]partitioner.Record, []wasmhost.Record) {
	rng := rand.New(rand.NewPCG(seed, 7))
	prs, wrs := make([]partitioner.Record, n), make([]wasmhost.Record, n)
	for i := range prs {
		k := make([]byte, 16)
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		v := []byte("value")
		prs[i] = partitioner.Record{Key: k, Value: v}
		wrs[i] = wasmhost.Record{Key: k, Value: v}
	}
	return prs, wrs
}

func TestBenchPartitionerMatchesMurmur2(t *testing.T) {
	p := loadBench(t, wasmhost.KindPartitioner)
	for _, n := range []int32{1, 7, 64, 1000} {
		prs, wrs := keyBatch(1000, uint64(n))
		// Keys of every length 0..15 cover murmur2's tail cases.
		for i := range 16 {
			prs[i].Key, wrs[i].Key = prs[i].Key[:i], wrs[i].Key[:i]
		}
		want := make([]int32, len(prs))
		if err := partitioner.Murmur2().Partition("t", n, prs, want); err != nil {
			t.Fatal(err)
		}
		got := make([]int32, len(wrs))
		if err := p.PartitionInto(context.Background(), "t", n, wrs, got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: wasm murmur2 differs from partitioner.Murmur2", n)
		}
	}
}

// BenchmarkPartitioner: batches of 1000 records with 16-byte keys, placed by the native
// murmur2 and by the same algorithm in a Go-built Wasm plugin (whole path: pool,
// encoding into guest memory, SDK decoding, guest hash, result checks).
func BenchmarkPartitioner(b *testing.B) {
	prs, wrs := keyBatch(1000, 1)
	out := make([]int32, len(prs))
	perRecord := func(b *testing.B) {
		b.ReportMetric(float64(b.N)*float64(len(prs))/b.Elapsed().Seconds(), "records/s")
	}
	b.Run("native-murmur2", func(b *testing.B) {
		p := partitioner.Murmur2()
		b.ReportAllocs()
		for b.Loop() {
			if err := p.Partition("bench", 64, prs, out); err != nil {
				b.Fatal(err)
			}
		}
		perRecord(b)
	})
	// "wasm-murmur2" returns sdk.PartitionBuffer; "wasm-murmur2-alloc" allocates its result
	// per batch, as a naive plugin would. One plugin (pool size 1), warmed up first: a new
	// instance's memory grows during its first calls, which wazero does by copying it.
	p := loadBench(b, wasmhost.KindPartitioner)
	ctx := context.Background()
	for _, topic := range []string{"bench", "alloc"} {
		name := "wasm-murmur2"
		if topic == "alloc" {
			name += "-alloc"
		}
		for range 200 {
			if err := p.PartitionInto(ctx, topic, 64, wrs, out); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := p.PartitionInto(ctx, topic, 64, wrs, out); err != nil {
					b.Fatal(err)
				}
			}
			perRecord(b)
		})
	}
}

// groupSpec builds the same group in the built-in assignor's and the host's types:
// members × (topics × partitions), everyone subscribed to everything unless split, in
// which case even members subscribe to the first half of the topics only.
func groupSpec(members, topics, partitions int, split bool) (assignor.GroupSpec, wasmhost.GroupSpec) {
	as := assignor.GroupSpec{Partitions: make(map[string]int32, topics)}
	ws := wasmhost.GroupSpec{Topics: make(map[string]int32, topics)}
	var names []string
	for t := range topics {
		n := fmt.Sprintf("topic-%03d", t)
		as.Partitions[n], ws.Topics[n] = int32(partitions), int32(partitions)
		names = append(names, n)
	}
	for m := range members {
		ts := names
		if split && m%2 == 0 {
			ts = names[:topics/2]
		}
		// Every member has its own copy of its subscription, as when decoded from its
		// JoinGroup request.
		own := make([]string, len(ts))
		for i, t := range ts {
			own[i] = strings.Clone(t)
		}
		ts = own
		id := fmt.Sprintf("member-%04d", m)
		as.Members = append(as.Members, assignor.Member{ID: id, Topics: ts})
		ws.Members = append(ws.Members, wasmhost.Member{ID: id, Topics: ts, Generation: -1})
	}
	return as, ws
}

// toAssignor converts a plugin's result into the built-in assignor's type (as the Wasm
// assignor adapter does).
func toAssignor(a wasmhost.Assignment) assignor.Assignment {
	out := make(assignor.Assignment, len(a.Members))
	for id, topics := range a.Members {
		n := 0
		for _, ps := range topics {
			n += len(ps)
		}
		list := make([]assignor.TopicPartition, 0, n)
		for t, ps := range topics {
			for _, p := range ps {
				list = append(list, assignor.TopicPartition{Topic: t, Partition: p})
			}
		}
		slices.SortFunc(list, func(a, b assignor.TopicPartition) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
		out[id] = list
	}
	return out
}

func TestBenchAssignorsMatchBuiltins(t *testing.T) {
	p := loadBench(t, wasmhost.KindAssignor)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 30 {
		// Random groups: some static members, uneven subscriptions, missing topics.
		as, ws := groupSpec(1+rng.IntN(12), 1+rng.IntN(6), rng.IntN(9), false)
		for m := range as.Members {
			var ts []string
			for t := range as.Partitions {
				if rng.IntN(3) > 0 {
					ts = append(ts, t)
				}
			}
			if rng.IntN(4) == 0 {
				ts = append(ts, "missing")
			}
			if rng.IntN(3) == 0 {
				as.Members[m].InstanceID = fmt.Sprintf("i-%d", rng.IntN(100))
			}
			as.Members[m].Topics, ws.Members[m].Topics = ts, ts
			ws.Members[m].InstanceID = as.Members[m].InstanceID
		}
		for _, name := range []string{"roundrobin", "range", "builtin-roundrobin", "builtin-range", "builtin-sticky"} {
			builtin := name
			if len(builtin) > 8 && builtin[:8] == "builtin-" {
				builtin = builtin[8:]
			}
			as2, _ := assignor.ByName(builtin)
			want, err := as2.Assign(as)
			if err != nil {
				t.Fatal(err)
			}
			ws.Group = name
			got, err := p.Assign(context.Background(), ws)
			if err != nil {
				t.Fatalf("spec %d, %s: %v", i, name, err)
			}
			g := toAssignor(got)
			for id, l := range want {
				if len(l) == 0 {
					want[id] = []assignor.TopicPartition{}
				}
			}
			for id, l := range g {
				if len(l) == 0 {
					g[id] = []assignor.TopicPartition{}
				}
			}
			if !reflect.DeepEqual(g, want) {
				t.Fatalf("spec %d, %s:\n wasm %v\n  builtin %v", i, name, g, want)
			}
			if err := assignor.Validate(as, g); err != nil {
				t.Fatalf("spec %d, %s: %v", i, name, err)
			}
		}
	}
}

// BenchmarkAssignor: 1000 members, 100 topics × 100 partitions; the built-in strategy
// against the same strategy in the Wasm plugin. "wasm-X" is Plugin.Assign (encoding the
// spec, the guest call, decoding and checking the result); "wasm-X-adapted" adds what an
// adapter to the assignor package does: converting the spec and the result (Lists) and
// checking Unassigned (Assign's checks and Unassigned are what assignor.Validate checks);
// "wasm-builtin-X" runs the assignor package itself compiled into the plugin.
func BenchmarkAssignor(b *testing.B) {
	for _, shape := range []struct {
		name  string
		split bool
	}{{"1000x10000", false}, {"1000x10000-split", true}} {
		as, ws := groupSpec(1000, 100, 100, shape.split)
		p := loadBench(b, wasmhost.KindAssignor)
		ctx := context.Background()
		for _, name := range []string{"roundrobin", "range"} {
			builtin, _ := assignor.ByName(name)
			b.Run(shape.name+"/builtin-"+name, func(b *testing.B) {
				for b.Loop() {
					if _, err := builtin.Assign(as); err != nil {
						b.Fatal(err)
					}
				}
			})
			spec := ws
			spec.Group = name
			b.Run(shape.name+"/wasm-"+name, func(b *testing.B) {
				for b.Loop() {
					if _, err := p.Assign(ctx, spec); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(shape.name+"/wasm-"+name+"-adapted", func(b *testing.B) {
				for b.Loop() {
					s := wasmhost.GroupSpec{Group: name, Topics: as.Partitions, Members: make([]wasmhost.Member, len(as.Members))}
					for i, m := range as.Members {
						s.Members[i] = wasmhost.Member{ID: m.ID, InstanceID: m.InstanceID, Rack: m.Rack, Topics: m.Topics, Generation: m.Generation}
					}
					a, err := p.Assign(ctx, s)
					if err != nil {
						b.Fatal(err)
					}
					if a.Unassigned > 0 {
						b.Fatal("unassigned partitions")
					}
					res := make(assignor.Assignment, len(a.Lists))
					for id, l := range a.Lists {
						tps := make([]assignor.TopicPartition, len(l))
						for i, tp := range l {
							tps[i] = assignor.TopicPartition(tp)
						}
						res[id] = tps
					}
				}
			})
			spec.Group = "builtin-" + name
			b.Run(shape.name+"/wasm-builtin-"+name, func(b *testing.B) {
				for b.Loop() {
					if _, err := p.Assign(ctx, spec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
