package batch

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// sameRecord compares a decoded record with the one that was encoded,
// including the null/empty distinction.
func sameRecord(got, want Record) error {
	if got.TimestampDelta != want.TimestampDelta || got.OffsetDelta != want.OffsetDelta || got.Attributes != want.Attributes {
		return fmt.Errorf("deltas/attributes: got %+v want %+v", got, want)
	}
	if !sameBytes(got.Key, want.Key) || !sameBytes(got.Value, want.Value) {
		return fmt.Errorf("key/value: got %q/%q want %q/%q (nil key %v/%v, nil value %v/%v)",
			got.Key, got.Value, want.Key, want.Value, got.Key == nil, want.Key == nil, got.Value == nil, want.Value == nil)
	}
	if len(got.Headers) != len(want.Headers) {
		return fmt.Errorf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i := range got.Headers {
		if got.Headers[i].Key != want.Headers[i].Key || !sameBytes(got.Headers[i].Value, want.Headers[i].Value) {
			return fmt.Errorf("header %d: got %+v want %+v", i, got.Headers[i], want.Headers[i])
		}
	}
	return nil
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func withOffsets(recs []Record) []Record {
	out := slices.Clone(recs)
	for i := range out {
		out[i].OffsetDelta = int32(i)
	}
	return out
}

func TestBuildRecordsRoundTrip(t *testing.T) {
	want := withOffsets(sampleRecords())
	for _, c := range allCodecs {
		b := Build(BuildOptions{ProducerID: -1, Codec: c}, sampleRecords(), 1_000)
		h, err := Validate(b, ValidateOptions{CheckRecords: true})
		if err != nil {
			t.Fatalf("%s: built batch does not validate: %v", c, err)
		}
		if h.Codec() != c || h.NumRecords != 4 || h.LastOffsetDelta != 3 || h.MaxTimestamp != 1_000+1<<40 {
			t.Fatalf("%s: header %+v", c, h)
		}
		_, got, err := Records(b)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", c, len(got), len(want))
		}
		for i := range got {
			if err := sameRecord(got[i], want[i]); err != nil {
				t.Fatalf("%s: record %d: %v", c, i, err)
			}
		}
	}
}

// Batches encoded by kmsg + kgo's compressors read and validate here, and
// batches built here read identically with kmsg + kgo's decompressors.
func TestCompatibleWithFranzGo(t *testing.T) {
	recs := keyedRecords(40)
	recs[3].Headers = []RecordHeader{{Key: "trace", Value: []byte("abc")}, {Key: "n", Value: nil}}
	want := withOffsets(recs)
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			theirs := kgoBatch(t, c, recs, 1_700_000_000_000)
			h, err := Validate(theirs, ValidateOptions{CheckRecords: true, RequireKeys: true, MaxBatchBytes: 1 << 20})
			if err != nil {
				t.Fatalf("kgo-style batch rejected: %v", err)
			}
			if h.ProducerID != -1 || h.BaseSequence != -1 || h.PartitionLeaderEpoch != -1 {
				t.Fatalf("header %+v", h)
			}
			_, got, err := Records(theirs)
			if err != nil || len(got) != len(want) {
				t.Fatalf("records of kgo batch: %d, %v", len(got), err)
			}
			for i := range got {
				if err := sameRecord(got[i], want[i]); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
			}

			ours := Build(BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, PartitionLeaderEpoch: -1, Codec: c},
				recs, 1_700_000_000_000)
			if c == CodecNone && !bytes.Equal(ours, theirs) {
				t.Fatalf("uncompressed bytes differ from kmsg's encoding:\n ours %x\ntheirs %x", ours, theirs)
			}
			kb, krecs := kgoRecords(t, ours)
			if kb.NumRecords != int32(len(recs)) || len(krecs) != len(recs) {
				t.Fatalf("kmsg reads %d/%d records", kb.NumRecords, len(krecs))
			}
			for i, kr := range krecs {
				var hs []RecordHeader
				for _, kh := range kr.Headers {
					hs = append(hs, RecordHeader{Key: kh.Key, Value: kh.Value})
				}
				r := Record{TimestampDelta: kr.TimestampDelta64, OffsetDelta: kr.OffsetDelta, Key: kr.Key, Value: kr.Value, Headers: hs}
				if err := sameRecord(r, want[i]); err != nil {
					t.Fatalf("kmsg record %d: %v", i, err)
				}
			}
		})
	}
}

func TestRecordTimestamps(t *testing.T) {
	recs := []Record{{TimestampDelta: 10}, {TimestampDelta: 3}, {TimestampDelta: 40}}
	b := Build(BuildOptions{BaseOffset: 100, ProducerID: -1, Codec: CodecZstd}, recs, 5_000)
	var got []int64
	err := RecordTimestamps(b, func(off, ts int64) bool { got = append(got, off, ts); return true })
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{100, 5010, 101, 5003, 102, 5040}; !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	h, _ := ParseHeader(b)
	if h.MaxTimestamp != 5040 || h.RecordTimestamp(recs[1]) != 5003 {
		t.Fatalf("MaxTimestamp %d, RecordTimestamp %d", h.MaxTimestamp, h.RecordTimestamp(recs[1]))
	}
	got = got[:0]
	_ = RecordTimestamps(b, func(off, ts int64) bool { got = append(got, off); return false })
	if len(got) != 1 {
		t.Fatalf("fn returned false but was called %d times", len(got))
	}
}

func TestBuildKeepOffsetDeltas(t *testing.T) {
	// A compacted batch: offsets 0, 4, 5 survive of 0..7.
	recs := []Record{{OffsetDelta: 0, Key: []byte("a")}, {OffsetDelta: 4, Key: []byte("b")}, {OffsetDelta: 5, Key: []byte("c")}}
	b := Build(BuildOptions{BaseOffset: 10, ProducerID: -1, KeepOffsetDeltas: true, LastOffsetDelta: 7}, recs, 0)
	h, got, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.LastOffsetDelta != 7 || h.NumRecords != 3 || got[1].OffsetDelta != 4 || got[2].OffsetDelta != 5 {
		t.Fatalf("header %+v records %+v", h, got)
	}
	var offs []int64
	_ = RecordTimestamps(b, func(off, _ int64) bool { offs = append(offs, off); return true })
	if !slices.Equal(offs, []int64{10, 14, 15}) {
		t.Fatalf("offsets %v", offs)
	}
	if !VerifyCRC(b) {
		t.Fatal("CRC")
	}
}

func TestRecordsRejectsBrokenFraming(t *testing.T) {
	b := Build(BuildOptions{ProducerID: -1}, keyedRecords(3), 0)
	body := b[HeaderLen:]
	cases := map[string][]byte{
		"truncated last record":   body[:len(body)-1],
		"trailing byte":           append(slices.Clone(body), 0),
		"one record missing":      body[:recordLen(t, body)],
		"negative header count":   mutateRecord(t, body, func(r []byte) { r[len(r)-1] = 0x01 }), // zigzag 0x01 = -1
		"key length past the end": mutateRecord(t, body, func(r []byte) { r[4] = 0x7e }),
	}
	for name, bad := range cases {
		_, _, err := Records(rewrite(b, bad, nil))
		if ErrorCode(err) != kerr.CorruptMessage.Code {
			t.Errorf("%s: got %v, want CORRUPT_MESSAGE", name, err)
		}
	}
	if _, _, err := Records(b[:len(b)-1]); err == nil {
		t.Error("a batch shorter than its length field decoded")
	}
}

// recordLen returns the encoded size of the first record in data.
func recordLen(t *testing.T, data []byte) int {
	t.Helper()
	_, n, err := decodeRecord(data, false)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mutateRecord copies data and lets fn change the first record's bytes.
func mutateRecord(t *testing.T, data []byte, fn func(rec []byte)) []byte {
	out := slices.Clone(data)
	fn(out[:recordLen(t, data)])
	return out
}
