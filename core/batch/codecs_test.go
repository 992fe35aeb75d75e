package batch

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestRecordIterMatchesRecords: the iterator yields the records Records decodes
// (headers aside), and each encoding it returns decodes to the same record.
func TestRecordIterMatchesRecords(t *testing.T) {
	var cs Codecs
	for _, c := range allCodecs {
		b := Build(BuildOptions{ProducerID: -1, Codec: c}, sampleRecords(), 1_000)
		h, want, err := Records(b)
		if err != nil {
			t.Fatal(err)
		}
		data, err := cs.RecordData(b, h, 0)
		if err != nil {
			t.Fatalf("%s: RecordData: %v", c, err)
		}
		it := NewRecordIter(data, h.NumRecords)
		var r Record
		var encs [][]byte
		for enc, ok := it.Next(&r); ok; enc, ok = it.Next(&r) {
			w := want[it.Index()-1]
			w.Headers = nil
			if err := sameRecord(r, w); err != nil {
				t.Fatalf("%s: record %d: %v", c, it.Index()-1, err)
			}
			again, n, err := decodeRecord(enc, true)
			if err != nil || n != len(enc) || sameRecord(again, want[it.Index()-1]) != nil {
				t.Fatalf("%s: encoding of record %d does not decode to it: %v", c, it.Index()-1, err)
			}
			encs = append(encs, bytes.Clone(enc))
		}
		if it.Err() != nil || it.Index() != len(want) {
			t.Fatalf("%s: %d records, err %v", c, it.Index(), it.Err())
		}
		if !bytes.Equal(bytes.Join(encs, nil), data) {
			t.Fatalf("%s: encodings do not add up to the record data", c)
		}
	}
}

func TestRecordIterErrors(t *testing.T) {
	b := Build(BuildOptions{ProducerID: -1}, keyedRecords(3), 0)
	data := b[HeaderLen:]
	for _, tc := range []struct {
		name string
		data []byte
		n    int32
	}{
		{"fewer records than declared", data, 4},
		{"more records than declared", data, 2},
		{"truncated record", data[:len(data)-1], 3},
	} {
		it := NewRecordIter(tc.data, tc.n)
		var r Record
		for _, ok := it.Next(&r); ok; _, ok = it.Next(&r) {
		}
		if !errors.Is(it.Err(), kerr.CorruptMessage) {
			t.Errorf("%s: err %v, want CORRUPT_MESSAGE", tc.name, it.Err())
		}
		if _, ok := it.Next(&r); ok {
			t.Errorf("%s: Next after an error returned a record", tc.name)
		}
	}
}

// TestCodecsRoundTrip: Codecs compresses to what Decompress reads and reads
// what Compress (and franz-go) write, for every codec, reusing its buffers.
func TestCodecsRoundTrip(t *testing.T) {
	var cs Codecs
	for round := range 3 {
		for _, c := range allCodecs {
			src := compressible(1000 + 40_000*round)
			z, err := cs.Compress(c, src)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if got, err := Decompress(c, z); err != nil || !bytes.Equal(got, src) {
				t.Fatalf("%s: Decompress of Codecs.Compress output: %v", c, err)
			}
			for _, in := range [][]byte{bytes.Clone(z), mustCompress(t, c, src)} {
				got, err := cs.Decompress(c, in, 0)
				if err != nil || !bytes.Equal(got, src) {
					t.Fatalf("%s round %d: Codecs.Decompress: %v", c, round, err)
				}
			}
			if c != CodecNone {
				if got, err := cs.Decompress(c, kgoCompress(t, c, src), 0); err != nil || !bytes.Equal(got, src) {
					t.Fatalf("%s: franz-go's output: %v", c, err)
				}
			}
		}
	}
	// xerial-framed snappy, as the Java producer writes it.
	src := compressible(100_000)
	if got, err := cs.Decompress(CodecSnappy, xerialFrame(t, src, 32<<10), 0); err != nil || !bytes.Equal(got, src) {
		t.Fatalf("xerial: %v", err)
	}
}

func mustCompress(t *testing.T, c Codec, src []byte) []byte {
	t.Helper()
	z, err := Compress(c, src)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestCodecsDecompressLimit(t *testing.T) {
	var cs Codecs
	src := compressible(64 << 10)
	for _, c := range allCodecs {
		z := mustCompress(t, c, src)
		if _, err := cs.Decompress(c, z, 1000); !errors.Is(err, ErrDecompressLimit) {
			t.Errorf("%s: err %v, want ErrDecompressLimit", c, err)
		}
		if c == CodecNone {
			continue
		}
		if _, err := cs.Decompress(c, []byte("not compressed data at all"), 0); err == nil {
			t.Errorf("%s: garbage decompressed without error", c)
		}
		// The Codecs still works after errors.
		if got, err := cs.Decompress(c, z, 0); err != nil || !bytes.Equal(got, src) {
			t.Errorf("%s: after errors: %v", c, err)
		}
	}
}

// TestCodecsReuseBuffers: once warm, decompressing and compressing a batch
// allocates (almost) nothing. The cleaner relies on it.
func TestCodecsReuseBuffers(t *testing.T) {
	src := compressible(200 << 10)
	for _, c := range allCodecs {
		var cs Codecs
		z := mustCompress(t, c, src)
		run := func() {
			if _, err := cs.Decompress(c, z, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.Compress(c, src); err != nil {
				t.Fatal(err)
			}
		}
		run()
		n := testing.AllocsPerRun(20, run)
		t.Logf("%s: %.1f allocations per decompress+compress", c, n)
		if n > 2 {
			t.Errorf("%s: %.1f allocations per decompress+compress, want at most 2", c, n)
		}
	}
}

// TestAppendBatch: a batch rebuilt from some records' encodings keeps the
// header fields, offsets and timestamps of the original and has a valid CRC.
func TestAppendBatch(t *testing.T) {
	var cs Codecs
	recs := keyedRecords(10)
	for _, c := range allCodecs {
		orig := Build(BuildOptions{BaseOffset: 1000, ProducerID: 7, ProducerEpoch: 2, BaseSequence: 30,
			PartitionLeaderEpoch: 5, Codec: c, Attributes: AttrLogAppendTime}, recs, 5_000)
		h, _ := ParseHeader(orig)
		data, err := cs.RecordData(orig, h, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Keep the odd records.
		var kept []byte
		var want []Record
		it := NewRecordIter(data, h.NumRecords)
		var r Record
		for enc, ok := it.Next(&r); ok; enc, ok = it.Next(&r) {
			if r.OffsetDelta%2 == 1 {
				kept = append(kept, enc...)
				want = append(want, r)
			}
		}
		nb, err := cs.AppendBatch([]byte("prefix"), h, c, kept, int32(len(want)))
		if err != nil {
			t.Fatal(err)
		}
		if string(nb[:6]) != "prefix" {
			t.Fatal("AppendBatch did not append")
		}
		nb = nb[6:]
		if !VerifyCRC(nb) || len(nb) != mustHeader(t, nb).TotalSize() {
			t.Fatalf("%s: rebuilt batch has a bad CRC or length", c)
		}
		nh, got, err := Records(nb)
		if err != nil {
			t.Fatal(err)
		}
		wantH := h
		wantH.NumRecords, wantH.Length, wantH.CRC = int32(len(want)), nh.Length, nh.CRC
		if nh != wantH || nh.Codec() != c {
			t.Fatalf("%s: header %+v, want %+v", c, nh, wantH)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", c, len(got), len(want))
		}
		for i := range got {
			if err := sameRecord(got[i], want[i]); err != nil {
				t.Fatalf("%s: record %d: %v", c, i, err)
			}
		}
		// franz-go reads it.
		if _, krecs := kgoRecords(t, nb); len(krecs) != len(want) {
			t.Fatalf("%s: kmsg read %d records", c, len(krecs))
		}
	}
	// No record at all: an empty uncompressed batch keeping its offsets.
	h, _ := ParseHeader(Build(BuildOptions{BaseOffset: 50, ProducerID: -1, Codec: CodecZstd}, recs, 1))
	nb, err := cs.AppendBatch(nil, h, CodecNone, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	nh := mustHeader(t, nb)
	if nh.NumRecords != 0 || nh.LastOffset() != h.LastOffset() || nh.Codec() != CodecNone || !VerifyCRC(nb) || len(nb) != HeaderLen {
		t.Fatalf("empty batch: %+v", nh)
	}
}

func mustHeader(t *testing.T, b []byte) Header {
	t.Helper()
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
