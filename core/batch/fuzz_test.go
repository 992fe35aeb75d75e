package batch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// seedBatches are the valid inputs of the committed fuzz corpus.
func seedBatches() map[string][]byte {
	seeds := map[string][]byte{}
	for _, c := range allCodecs {
		seeds["valid-"+c.String()] = Build(BuildOptions{ProducerID: -1, Codec: c}, sampleRecords(), 1_700_000_000_000)
	}
	seeds["valid-idempotent"] = Build(BuildOptions{ProducerID: 5, BaseSequence: 10}, keyedRecords(3), 0)
	_, all, _ := segment()
	seeds["segment"] = all
	seeds["torn-tail"] = all[:len(all)-7]
	seeds["crc-flipped"] = setByte(seeds["valid-none"], len(seeds["valid-none"])-1, 0)
	seeds["garbage"] = randomBytes(200, 7)
	seeds["zeros"] = make([]byte, 80)
	return seeds
}

// writeCorpus writes a file of Go's fuzz corpus format.
func writeCorpus(t *testing.T, name, file string, values ...any) {
	dir := filepath.Join("testdata", "fuzz", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := "go test fuzz v1\n"
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			s += fmt.Sprintf("[]byte(%q)\n", v)
		case bool:
			s += fmt.Sprintf("bool(%v)\n", v)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz")
	}
	for name, b := range seedBatches() {
		writeCorpus(t, "FuzzValidate", name, b, true, true)
		writeCorpus(t, "FuzzScan", name, b)
	}
}

func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, requireKeys, checkRecords bool) {
		opt := ValidateOptions{RequireKeys: requireKeys, CheckRecords: checkRecords, MaxDecompressedBytes: 16 << 20,
			TimestampBeforeMaxMs: 1 << 50, TimestampAfterMaxMs: 1 << 50, Now: 1_700_000_000_000}
		h, err := Validate(b, opt)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Validate returned %T, not *Error: %v", err, err)
			}
		} else {
			if h.TotalSize() != len(b) || !VerifyCRC(b) {
				t.Fatalf("accepted a batch whose size or CRC is wrong: %+v", h)
			}
			if checkRecords && h.Codec() == CodecNone {
				_, recs, err := Records(b)
				if err != nil || len(recs) != int(h.NumRecords) {
					t.Fatalf("validated records do not decode: %d of %d, %v", len(recs), h.NumRecords, err)
				}
			}
		}
		// The other readers must not panic on the same bytes either.
		_, _, _ = Records(b)
		_ = RecordTimestamps(b, func(int64, int64) bool { return true })
		_, _ = Split(b)
		if len(b) > 0 {
			_, _ = DecompressMax(Codec(b[0]%5), b[1:], 16<<20)
		}
	})
}

func FuzzScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		last := -1
		n, err := Scan(b, func(pos int, h Header) bool {
			if pos <= last || !VerifyCRC(b[pos:]) || pos+h.TotalSize() > len(b) {
				t.Fatalf("Scan reported a bad batch at %d (previous %d)", pos, last)
			}
			last = pos
			return true
		})
		if n < 0 || n > len(b) || (err == nil) != (n == len(b)) {
			t.Fatalf("Scan = %d, %v for %d bytes", n, err, len(b))
		}
		if err != nil && !errors.Is(err, ErrTorn) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
