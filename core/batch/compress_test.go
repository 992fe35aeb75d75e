package batch

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCompressRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty":  {},
		"small":  []byte("x"),
		"text":   compressible(200 << 10),
		"random": randomBytes(70<<10, 1),
	}
	for _, c := range allCodecs {
		for name, in := range inputs {
			out, err := Compress(c, in)
			if err != nil {
				t.Fatalf("%s/%s: compress: %v", c, name, err)
			}
			back, err := Decompress(c, out)
			if err != nil {
				t.Fatalf("%s/%s: decompress: %v", c, name, err)
			}
			if !bytes.Equal(back, in) {
				t.Fatalf("%s/%s: round trip changed %d bytes into %d", c, name, len(in), len(back))
			}
			if c != CodecNone && name == "text" && len(out) > len(in)/4 {
				t.Errorf("%s compressed text only to %d of %d bytes", c, len(out), len(in))
			}
		}
	}
}

// Both directions against franz-go's own codecs.
func TestCodecsInteroperateWithKgo(t *testing.T) {
	in := compressible(300 << 10)
	dec := kgo.DefaultDecompressor()
	for _, c := range allCodecs[1:] {
		back, err := Decompress(c, kgoCompress(t, c, in))
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("%s: decompressing kgo output: err %v, equal %v", c, err, bytes.Equal(back, in))
		}
		ours, err := Compress(c, in)
		if err != nil {
			t.Fatal(err)
		}
		back, err = dec.Decompress(ours, kgo.CompressionCodecType(c))
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("%s: kgo decompressing our output: err %v, equal %v", c, err, bytes.Equal(back, in))
		}
	}
}

func TestXerialSnappy(t *testing.T) {
	in := compressible(100 << 10)
	framed := xerialFrame(t, in, 32<<10) // 4 chunks, as snappy-java writes them
	got, err := Decompress(CodecSnappy, framed)
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("xerial: err %v, equal %v", err, bytes.Equal(got, in))
	}
	if k, err := kgo.DefaultDecompressor().Decompress(framed, kgo.CodecSnappy); err != nil || !bytes.Equal(k, in) {
		t.Fatalf("kgo disagrees on our xerial test framing: %v", err)
	}
	if got, err := Decompress(CodecSnappy, xerialFrame(t, nil, 1)); err != nil || len(got) != 0 {
		t.Fatalf("header-only xerial: %q, %v", got, err)
	}
	torn := framed[:len(framed)-10]
	if _, err := Decompress(CodecSnappy, torn); err == nil {
		t.Fatal("xerial stream with a torn last chunk decompressed")
	}
	// A whole batch whose records are xerial-framed reads like any other.
	raw := Build(BuildOptions{ProducerID: -1}, keyedRecords(50), 0)
	b := rewrite(raw, xerialFrame(t, raw[HeaderLen:], 100), func(h *Header) { h.Attributes |= int16(CodecSnappy) })
	if _, err := Validate(b, ValidateOptions{RequireKeys: true}); err != nil {
		t.Fatal(err)
	}
	if _, recs, err := Records(b); err != nil || len(recs) != 50 {
		t.Fatalf("records of xerial batch: %d, %v", len(recs), err)
	}
}

func TestDecompressBounded(t *testing.T) {
	zeros := make([]byte, 4<<20)
	for _, c := range allCodecs {
		comp, err := Compress(c, zeros)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecompressMax(c, comp, 1<<20); !errors.Is(err, ErrDecompressLimit) {
			t.Errorf("%s: 4 MiB of zeros with a 1 MiB bound: got %v, want ErrDecompressLimit", c, err)
		}
		if out, err := DecompressMax(c, comp, 4<<20); err != nil || len(out) != 4<<20 {
			t.Errorf("%s: exactly at the bound: %d bytes, %v", c, len(out), err)
		}
	}
	if _, err := DecompressMax(CodecSnappy, xerialFrame(t, zeros, 64<<10), 1<<20); !errors.Is(err, ErrDecompressLimit) {
		t.Errorf("xerial: got %v, want ErrDecompressLimit", err)
	}
}

func TestDecompressGarbage(t *testing.T) {
	inputs := [][]byte{nil, {0}, []byte("garbage that is not compressed"), randomBytes(4096, 2)}
	inputs = append(inputs, append(append([]byte{}, xerialMagic...), randomBytes(100, 3)...))
	for _, c := range allCodecs[1:] {
		for i, in := range inputs {
			if out, err := Decompress(c, in); err == nil && len(in) > 1 {
				t.Errorf("%s: input %d (%d bytes) decompressed to %d bytes without error", c, i, len(in), len(out))
			}
		}
	}
	if _, err := Decompress(Codec(6), []byte("x")); err == nil {
		t.Fatal("unknown codec decompressed")
	}
	if _, err := Compress(Codec(5), []byte("x")); err == nil {
		t.Fatal("unknown codec compressed")
	}
}

// Shared decoders and pooled readers must be safe for concurrent use (run
// with -race).
func TestDecompressConcurrent(t *testing.T) {
	in := compressible(64 << 10)
	comp := map[Codec][]byte{}
	for _, c := range allCodecs {
		comp[c], _ = Compress(c, in)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(allCodecs))
	for range 8 {
		for _, c := range allCodecs {
			wg.Go(func() {
				for range 5 {
					out, err := Decompress(c, comp[c])
					if err == nil && !bytes.Equal(out, in) {
						err = errors.New(c.String() + ": wrong output")
					}
					if err != nil {
						errs <- err
						return
					}
					if _, err := Compress(c, in); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
