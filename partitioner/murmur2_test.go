package partitioner

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

var update = flag.Bool("update", false, "rewrite testdata/murmur2.golden from the implementation")

// Published murmur2 vectors (Java's signed int results).
var publishedMurmur2 = []struct {
	src string
	in  string
	out int32
}{
	// Apache Kafka clients UtilsTest.testMurmur2 (also franz-go's kgo tests).
	{"kafka", "21", -973932308},
	{"kafka", "foobar", -790332482},
	{"kafka", "a-little-bit-long-string", -985981536},
	{"kafka", "a-little-bit-longer-string", -1486304829},
	{"kafka", "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"kafka", "abc", 479470107},
	// librdkafka src/rdmurmur2.c unit test (java_murmur2_results).
	{"librdkafka", "kafka", int32(-0x2f98309c)},             // 0xd067cf64
	{"librdkafka", "giberish123456789", int32(-0x70aad4f4)}, // 0x8f552b0c
	{"librdkafka", "1234", int32(-0x603684ec)},              // 0x9fc97b14
	{"librdkafka", "234", int32(-0x183ff636)},               // 0xe7c009ca
	{"librdkafka", "34", int32(-0x78c6cf26)},                // 0x873930da
	{"librdkafka", "4", 0x5a4b5ca1},
	{"librdkafka", "PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
	{"librdkafka", "", 0x106e08d9},
	// Akka's Murmur2Spec (values from the Kafka implementation).
	{"akka", "1", -1993445489},
	{"akka", "12", 126087238},
	{"akka", "123", -267702483},
	{"akka", "1234", -1614185708},
	{"akka", "12345", -1188365604},
}

func TestMurmur2PublishedVectors(t *testing.T) {
	for _, v := range publishedMurmur2 {
		if got := Murmur2Hash([]byte(v.in)); got != v.out {
			t.Errorf("%s: Murmur2Hash(%q) = %d (%#08x), want %d (%#08x)",
				v.src, v.in, got, uint32(got), v.out, uint32(v.out))
		}
	}
}

// goldenNs are the partition counts whose placements the golden file records.
var goldenNs = []int32{1, 3, 7, 64, 1000}

// goldenKeys are the published inputs plus seeded random keys of every length
// 0..63 (so every tail length and several word counts are covered).
func goldenKeys() [][]byte {
	var keys [][]byte
	for _, v := range publishedMurmur2 {
		keys = append(keys, []byte(v.in))
	}
	rng := rand.New(rand.NewPCG(0x9747b28c, 1))
	for i := 0; i < 256; i++ {
		k := make([]byte, i%64)
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		keys = append(keys, k)
	}
	return keys
}

func goldenLine(key []byte) string {
	var b strings.Builder
	h := hex.EncodeToString(key)
	if h == "" {
		h = "-"
	}
	fmt.Fprintf(&b, "%s %d", h, Murmur2Hash(key))
	out := make([]int32, 1)
	for _, n := range goldenNs {
		if err := Murmur2().Partition("t", n, []Record{{Key: key}}, out); err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, " %d", out[0])
	}
	return b.String()
}

const goldenHeader = `# murmur2 golden vectors for streamd's partitioner package.
# Regenerate with: go test ./partitioner -run TestMurmur2Golden -update
# One key a line, fields separated by one space:
#   key-hex murmur2 p1 p3 p7 p64 p1000
# key-hex is the key in hex ("-" for the empty key); murmur2 is Java's signed
# Utils.murmur2; pN is the Murmur2 partitioner's placement of that keyed record
# with N partitions, toPositive(murmur2) % N.
`

// TestMurmur2Golden checks the golden file against the implementation and,
// independently, against franz-go's Kafka-compatible partitioner.
func TestMurmur2Golden(t *testing.T) {
	path := filepath.Join("testdata", "murmur2.golden")
	if *update {
		var b bytes.Buffer
		b.WriteString(goldenHeader)
		for _, k := range goldenKeys() {
			b.WriteString(goldenLine(k))
			b.WriteByte('\n')
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines++
		fields := strings.Fields(line)
		if len(fields) != 2+len(goldenNs) {
			t.Fatalf("malformed golden line %q", line)
		}
		var key []byte
		if fields[0] != "-" {
			if key, err = hex.DecodeString(fields[0]); err != nil {
				t.Fatalf("golden line %q: %v", line, err)
			}
		} else {
			key = []byte{}
		}
		if got := goldenLine(key); got != line {
			t.Errorf("implementation differs from golden:\n got %s\nwant %s", got, line)
		}
		hash, err := strconv.ParseInt(fields[1], 10, 32)
		if err != nil {
			t.Fatalf("golden line %q: %v", line, err)
		}
		// With n = 2^31 kgo returns toPositive(murmur2) itself.
		if got := kafka.Partition(&kgo.Record{Key: key}, 1<<31); int64(got) != hash&0x7fffffff {
			t.Errorf("key %s: kgo toPositive(murmur2) = %d, golden murmur2 %d", fields[0], got, hash)
		}
		for i, n := range goldenNs {
			if got := kafka.Partition(&kgo.Record{Key: key}, int(n)); strconv.Itoa(got) != fields[2+i] {
				t.Errorf("key %s n=%d: kgo partition %d, golden %s", fields[0], n, got, fields[2+i])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if want := len(goldenKeys()); lines != want {
		t.Errorf("golden file has %d vectors, generator makes %d (run with -update)", lines, want)
	}
}

// TestMurmur2MatchesKgo compares placements with franz-go's StickyKeyPartitioner
// (itself tested against the Java client) on random keys and partition counts.
func TestMurmur2MatchesKgo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	p := Murmur2()
	recs := make([]Record, 5000)
	for i := range recs {
		k := make([]byte, rng.IntN(100))
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		recs[i].Key = k
	}
	out := make([]int32, len(recs))
	for _, n := range []int32{1, 2, 3, 10, 97, 1 << 20, 1<<31 - 1} {
		if err := p.Partition("t", n, recs, out); err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			if want := kafka.Partition(&kgo.Record{Key: recs[i].Key}, int(n)); int(out[i]) != want {
				t.Fatalf("n=%d key %x: got %d, kgo %d", n, recs[i].Key, out[i], want)
			}
		}
	}
}

func BenchmarkMurmur2Batch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]Record, 1000)
	for i := range recs {
		k := make([]byte, 16)
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		recs[i].Key = k
	}
	out := make([]int32, len(recs))
	p := Murmur2()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := p.Partition("bench", 64, recs, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(recs))/b.Elapsed().Seconds(), "records/s")
}
