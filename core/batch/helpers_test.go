package batch

import (
	"bytes"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite testdata golden files and the fuzz seed corpus")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// sampleRecords covers null and empty keys and values, headers with null and
// empty values, negative and large timestamp deltas.
func sampleRecords() []Record {
	return []Record{
		{TimestampDelta: 0, Key: []byte("k0"), Value: []byte("hello")},
		{TimestampDelta: 5, Key: nil, Value: []byte("null key")},
		{TimestampDelta: -3, Key: []byte{}, Value: nil},
		{TimestampDelta: 1 << 40, Key: []byte("k3"), Value: bytes.Repeat([]byte("v"), 300),
			Headers: []RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "", Value: nil}, {Key: "h3", Value: []byte{}}}},
	}
}

// keyedRecords returns n records that all have keys, as a compacted topic wants.
func keyedRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{TimestampDelta: int64(i), Key: []byte{byte('a' + i%26)}, Value: bytes.Repeat([]byte{byte(i)}, i%50)}
	}
	return recs
}

var kgoCodec = map[Codec]kgo.CompressionCodec{
	CodecGzip:   kgo.GzipCompression(),
	CodecSnappy: kgo.SnappyCompression(),
	CodecLZ4:    kgo.Lz4Compression(),
	CodecZstd:   kgo.ZstdCompression(),
}

// kgoCompress compresses src with franz-go's own compressor.
func kgoCompress(t testing.TB, c Codec, src []byte) []byte {
	t.Helper()
	comp, err := kgo.DefaultCompressor(kgoCodec[c])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	out, used := comp.Compress(&buf, src)
	if int8(used) != int8(c) {
		t.Fatalf("kgo compressed with codec %d, want %s", used, c)
	}
	return bytes.Clone(out)
}

// kgoBatch encodes records the way franz-go does, with kmsg's Record and
// RecordBatch encoders and kgo's compressor: an independent encoder to check
// this package against.
func kgoBatch(t testing.TB, c Codec, recs []Record, baseTS int64) []byte {
	t.Helper()
	var raw []byte
	maxTS := baseTS
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.TimestampDelta, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		kr.Length = int32(len(kr.AppendTo(nil)) - 1) // body size: the record without its (1-byte, 0) length
		raw = kr.AppendTo(raw)
		maxTS = max(maxTS, baseTS+r.TimestampDelta)
	}
	if c != CodecNone {
		raw = kgoCompress(t, c, raw)
	}
	kb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(c),
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       baseTS,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              raw,
	}
	kb.Length = int32(49 + len(raw))
	b := kb.AppendTo(nil)
	kb.CRC = int32(crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return kb.AppendTo(nil)
}

// kgoRecords decodes batch b with kmsg and kgo's decompressor only.
func kgoRecords(t testing.TB, b []byte) (kmsg.RecordBatch, []kmsg.Record) {
	t.Helper()
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatalf("kmsg cannot read the batch: %v", err)
	}
	data := kb.Records
	if c := kb.Attributes & 7; c != 0 {
		var err error
		data, err = kgo.DefaultDecompressor().Decompress(data, kgo.CompressionCodecType(c))
		if err != nil {
			t.Fatalf("kgo cannot decompress: %v", err)
		}
	}
	var recs []kmsg.Record
	for len(data) > 0 {
		l, n := binary.Varint(data)
		if n <= 0 || int(l)+n > len(data) {
			t.Fatalf("bad record length at %d", len(recs))
		}
		var r kmsg.Record
		if err := r.ReadFrom(data[:n+int(l)]); err != nil {
			t.Fatalf("kmsg cannot read record %d: %v", len(recs), err)
		}
		recs = append(recs, r)
		data = data[n+int(l):]
	}
	return kb, recs
}

// xerialFrame frames src as snappy-java does: header, then chunks of at most
// chunk bytes, each a big-endian length and a raw snappy block.
func xerialFrame(t testing.TB, src []byte, chunk int) []byte {
	t.Helper()
	out := append([]byte{}, xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	for len(src) > 0 {
		n := min(chunk, len(src))
		block, err := Compress(CodecSnappy, src[:n])
		if err != nil {
			t.Fatal(err)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		src = src[n:]
	}
	return out
}

// rewrite returns a copy of batch b with header fields changed by fn and
// length and CRC recomputed for the (possibly replaced) body.
func rewrite(b []byte, body []byte, fn func(h *Header)) []byte {
	h, err := ParseHeader(b)
	if err != nil {
		panic(err)
	}
	if body == nil {
		body = b[HeaderLen:]
	}
	if fn != nil {
		fn(&h)
	}
	h.Length = int32(HeaderLen - LogOverhead + len(body))
	out := append(appendHeader(nil, h), body...)
	binary.BigEndian.PutUint32(out[offCRC:], CRC(out))
	return out
}

// compressible returns n bytes of repetitive text.
func compressible(n int) []byte {
	line := []byte("streamd record batch payload 0123456789 abcdefghijklmnopqrstuvwxyz\n")
	return bytes.Repeat(line, n/len(line)+1)[:n]
}
