package partitioner

import (
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func all() []Partitioner {
	return []Partitioner{Murmur2(), RoundRobin(), Sticky(), ConsistentRandom()}
}

func randKeys(rng *rand.Rand, n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		switch i % 5 {
		case 0: // keyless
		case 1:
			recs[i].Key = []byte{}
		default:
			k := make([]byte, 1+rng.IntN(40))
			for j := range k {
				k[j] = byte(rng.Uint32())
			}
			recs[i].Key = k
		}
	}
	return recs
}

func TestByName(t *testing.T) {
	for _, name := range []string{"murmur2", "round-robin", "sticky", "consistent-random"} {
		p, ok := ByName(name)
		if !ok || p.Name() != name {
			t.Errorf("ByName(%q) = %v, %v; want a partitioner named %q", name, p, ok, name)
		}
	}
	for _, name := range []string{"", "wasm:mine", "Murmur2", "random", "roundrobin"} {
		if p, ok := ByName(name); ok || p != nil {
			t.Errorf("ByName(%q) = %v, %v; want nil, false", name, p, ok)
		}
	}
	a, _ := ByName("round-robin")
	b, _ := ByName("round-robin")
	out := make([]int32, 1)
	_ = a.Partition("t", 5, make([]Record, 1), out)
	_ = b.Partition("t", 5, make([]Record, 1), out)
	if out[0] != 0 {
		t.Errorf("second ByName instance continued the first's counter: got %d, want 0", out[0])
	}
}

func TestInvalidArguments(t *testing.T) {
	for _, p := range all() {
		recs := make([]Record, 3)
		out := []int32{-7, -7, -7}
		for _, n := range []int32{0, -1} {
			if err := p.Partition("t", n, recs, out); !errors.Is(err, ErrPartitionCount) {
				t.Errorf("%s n=%d: err = %v, want ErrPartitionCount", p.Name(), n, err)
			}
		}
		if err := p.Partition("t", 3, recs, out[:2]); !errors.Is(err, ErrShortOutput) {
			t.Errorf("%s short out: err = %v, want ErrShortOutput", p.Name(), err)
		}
		if out[0] != -7 || out[1] != -7 {
			t.Errorf("%s wrote output on a failed call: %v", p.Name(), out)
		}
		if err := p.Partition("t", 3, nil, nil); err != nil {
			t.Errorf("%s empty batch: %v", p.Name(), err)
		}
	}
}

func TestResultsInRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	recs := randKeys(rng, 500)
	out := make([]int32, len(recs))
	for _, p := range all() {
		for _, n := range []int32{1, 2, 3, 17, 1000, 1<<31 - 1} {
			for call := 0; call < 3; call++ {
				for i := range out {
					out[i] = -1
				}
				if err := p.Partition("t", n, recs, out); err != nil {
					t.Fatalf("%s n=%d: %v", p.Name(), n, err)
				}
				for i, got := range out {
					if got < 0 || got >= n || (n == 1 && got != 0) {
						t.Fatalf("%s n=%d rec %d: partition %d out of range", p.Name(), n, i, got)
					}
				}
			}
		}
	}
}

func TestKeyedDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	recs := make([]Record, 300)
	for i := range recs {
		recs[i].Key = []byte{byte(i), byte(i >> 8), byte(rng.Uint32())}
	}
	recs[0].Key = []byte{} // an empty key is a key for murmur2 and sticky
	for _, mk := range []func() Partitioner{Murmur2, Sticky, ConsistentRandom} {
		first := make([]int32, len(recs))
		if err := mk().Partition("a", 37, recs, first); err != nil {
			t.Fatal(err)
		}
		p := mk()
		for call := 0; call < 3; call++ {
			again := make([]int32, len(recs))
			if err := p.Partition("b", 37, recs, again); err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if i == 0 && p.Name() == NameConsistentRandom {
					continue // empty keys are random for consistent-random
				}
				if again[i] != first[i] {
					t.Fatalf("%s: key %x went to %d, then %d", p.Name(), recs[i].Key, first[i], again[i])
				}
			}
		}
	}
	// Sticky places keyed records exactly like Murmur2.
	a, b := make([]int32, len(recs)), make([]int32, len(recs))
	_ = Murmur2().Partition("t", 37, recs, a)
	_ = Sticky().Partition("t", 37, recs, b)
	for i := range recs {
		if a[i] != b[i] {
			t.Fatalf("key %x: murmur2 %d, sticky %d", recs[i].Key, a[i], b[i])
		}
	}
	// Java hashes an empty (non-null) key: murmur2("") = 0x106e08d9.
	if want := int32(0x106e08d9 % 37); a[0] != want {
		t.Errorf("empty key: partition %d, want %d", a[0], want)
	}
}

func TestConsistentRandomCRC32(t *testing.T) {
	p := ConsistentRandom()
	out := make([]int32, 2)
	// The IEEE CRC-32 check value: crc32("123456789") = 0xcbf43926 = 3421780262.
	// The modulo is unsigned, as in librdkafka (a signed one would give -34).
	if err := p.Partition("t", 1000, []Record{{Key: []byte("123456789")}, {Key: []byte("123456789")}}, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != 262 || out[1] != 262 {
		t.Errorf("crc32 placement of %q = %v, want 262", "123456789", out)
	}

	// franz-go documents SaramaHasher(crc32.ChecksumIEEE) as librdkafka's
	// consistent partitioner (on 64-bit platforms).
	rng := rand.New(rand.NewPCG(8, 9))
	recs := make([]Record, 3000)
	for i := range recs {
		k := make([]byte, 1+rng.IntN(64))
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		recs[i].Key = k
	}
	out = make([]int32, len(recs))
	lib := kgo.StickyKeyPartitioner(kgo.SaramaHasher(crc32.ChecksumIEEE)).ForTopic("t")
	for _, n := range []int32{1, 3, 10, 1 << 20, 1<<31 - 1} {
		if err := p.Partition("t", n, recs, out); err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			if want := lib.Partition(&kgo.Record{Key: recs[i].Key}, int(n)); int(out[i]) != want {
				t.Fatalf("n=%d key %x: got %d, librdkafka-style %d", n, recs[i].Key, out[i], want)
			}
		}
	}

	// Nil and empty keys are spread at random, per record.
	keyless := make([]Record, 2000)
	for i := range keyless {
		if i%2 == 0 {
			keyless[i].Key = []byte{}
		}
	}
	out = make([]int32, len(keyless))
	_ = p.Partition("t", 4, keyless, out)
	seen := map[int32]int{}
	for _, o := range out {
		seen[o]++
	}
	if len(seen) != 4 {
		t.Errorf("keyless records used partitions %v, want all 4", seen)
	}
}

func TestRoundRobinEven(t *testing.T) {
	p := RoundRobin()
	var got []int32
	for _, size := range []int{5, 7, 11, 1} {
		out := make([]int32, size)
		recs := randKeys(rand.New(rand.NewPCG(1, uint64(size))), size) // keys are ignored
		if err := p.Partition("a", 4, recs, out); err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
	}
	for i, g := range got {
		if g != int32(i%4) {
			t.Fatalf("round-robin sequence %v: position %d is %d, want %d", got, i, g, i%4)
		}
	}
	out := make([]int32, 2)
	_ = p.Partition("b", 4, make([]Record, 2), out)
	if out[0] != 0 || out[1] != 1 {
		t.Errorf("topic b shares topic a's counter: got %v, want [0 1]", out)
	}

	// Concurrent calls reserve disjoint ranges: totals are exactly even.
	const workers, calls, batch, n = 8, 100, 10, 7
	p = RoundRobin()
	counts := make([][n]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			out := make([]int32, batch)
			recs := make([]Record, batch)
			for range calls {
				if err := p.Partition("c", n, recs, out); err != nil {
					t.Error(err)
					return
				}
				for _, o := range out {
					counts[w][o]++
				}
			}
		})
	}
	wg.Wait()
	var total [n]int
	for _, c := range counts {
		for i, v := range c {
			total[i] += v
		}
	}
	const all = workers * calls * batch
	for i, v := range total {
		if v < all/n || v > all/n+1 {
			t.Errorf("partition %d got %d of %d records; want %d or %d (%v)", i, v, all, all/n, all/n+1, total)
		}
	}
}

// keylessPartition checks that every keyless record of one call shares a
// partition and returns it.
func keylessPartition(t *testing.T, p Partitioner, topic string, n int32) int32 {
	t.Helper()
	recs := make([]Record, 20)
	for i := range recs {
		if i%3 == 0 {
			recs[i].Key = []byte{byte(i)}
		}
	}
	out := make([]int32, len(recs))
	if err := p.Partition(topic, n, recs, out); err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if recs[i].Key == nil && out[i] != out[1] {
			t.Fatalf("%s: keyless records of one call split over %d and %d", p.Name(), out[1], out[i])
		}
	}
	return out[1]
}

func TestStickyKeyless(t *testing.T) {
	p := Sticky()
	seen := map[int32]bool{}
	prev := int32(-1)
	for range 200 {
		got := keylessPartition(t, p, "s", 5)
		if got == prev {
			t.Fatalf("sticky stayed on partition %d across two calls", got)
		}
		seen[got], prev = true, got
	}
	if len(seen) != 5 {
		t.Errorf("200 sticky batches used partitions %v, want all 5", seen)
	}
	for range 10 {
		if got := keylessPartition(t, p, "one", 1); got != 0 {
			t.Fatalf("n=1: sticky chose %d", got)
		}
	}
	// A topic that shrank below the remembered partition still gets a valid one.
	for range 20 {
		keylessPartition(t, p, "shrink", 50)
		if got := keylessPartition(t, p, "shrink", 2); got < 0 || got >= 2 {
			t.Fatalf("after shrinking to 2: partition %d", got)
		}
	}
}

func TestStickyConcurrent(t *testing.T) {
	p := Sticky()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			topic := string(rune('a' + w%2))
			for range 200 {
				keylessPartition(t, p, topic, 3)
			}
		})
	}
	wg.Wait()
}

func TestMurmur2KeylessStickyPerCall(t *testing.T) {
	p := Murmur2()
	seen := map[int32]bool{}
	for range 200 {
		seen[keylessPartition(t, p, "m", 4)] = true
	}
	if len(seen) != 4 {
		t.Errorf("200 keyless batches used partitions %v, want all 4", seen)
	}
}
