package batch

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidate(t *testing.T) {
	const now = 1_700_000_000_000
	noPID := BuildOptions{ProducerID: -1}
	good := Build(noPID, keyedRecords(3), now)
	goodZstd := Build(BuildOptions{ProducerID: -1, Codec: CodecZstd}, keyedRecords(3), now)
	nullKey := []Record{{Key: []byte("a")}, {Key: nil, Value: []byte("v")}, {Key: []byte("c")}}
	gappy := Build(BuildOptions{ProducerID: -1, KeepOffsetDeltas: true},
		[]Record{{OffsetDelta: 0}, {OffsetDelta: 2}, {OffsetDelta: 2}}, now)
	body := good[HeaderLen:]
	firstRec := recordLen(t, body)
	bomb := Build(BuildOptions{ProducerID: -1, Codec: CodecGzip}, []Record{{Key: []byte("k"), Value: make([]byte, 2<<20)}}, now)

	tests := []struct {
		name string
		b    []byte
		opt  ValidateOptions
		code *kerr.Error // nil: valid
		msg  string
	}{
		{name: "valid uncompressed", b: good, opt: ValidateOptions{CheckRecords: true, RequireKeys: true, MaxBatchBytes: int32(len(good))}},
		{name: "valid zstd with keys", b: goodZstd, opt: ValidateOptions{RequireKeys: true}},
		{name: "valid idempotent", b: Build(BuildOptions{ProducerID: 7, BaseSequence: 0}, keyedRecords(1), now)},
		{name: "valid transactional", b: Build(BuildOptions{ProducerID: 7, Attributes: AttrTransactional}, keyedRecords(1), now)},

		{name: "too short", b: good[:10], code: kerr.CorruptMessage, msg: "10 bytes is too short"},
		{name: "extra byte", b: append(slices.Clone(good), 0), code: kerr.CorruptMessage,
			msg: "length field " + itoa(len(good)-12) + " implies " + itoa(len(good)) + " bytes but the batch is " + itoa(len(good)+1)},
		{name: "truncated", b: good[:len(good)-1], code: kerr.CorruptMessage, msg: "implies"},
		{name: "magic 1", b: setByte(good, offMagic, 1), code: kerr.InvalidRecord, msg: "magic 1: produce v3+ requires record batch magic 2"},
		{name: "header cut short", b: shortHeader(good), code: kerr.CorruptMessage, msg: "shorter than the 61-byte batch header"},
		{name: "base offset", b: rewrite(good, nil, func(h *Header) { h.BaseOffset = 5 }), code: kerr.InvalidRecord,
			msg: "baseOffset 5: a produced batch must start at offset 0"},
		{name: "base offset allowed", b: rewrite(good, nil, func(h *Header) { h.BaseOffset = 5 }), opt: ValidateOptions{AllowNonZeroBaseOffset: true}},
		{name: "too large", b: good, opt: ValidateOptions{MaxBatchBytes: int32(len(good) - 1)}, code: kerr.MessageTooLarge,
			msg: "batch of " + itoa(len(good)) + " bytes exceeds max.message.bytes " + itoa(len(good)-1)},
		{name: "crc", b: setByte(good, len(good)-1, good[len(good)-1]^0xff), code: kerr.CorruptMessage,
			msg: "crc mismatch: header 0x" + hex8(CRC(good)) + " computed 0x"},
		{name: "crc field", b: setByte(good, offCRC, good[offCRC]^1), code: kerr.CorruptMessage, msg: "crc mismatch"},
		{name: "last offset delta", b: rewrite(good, nil, func(h *Header) { h.LastOffsetDelta = 4 }), code: kerr.InvalidRecord,
			msg: "lastOffsetDelta 4 but 3 records"},
		{name: "negative last offset delta", b: rewrite(good, nil, func(h *Header) { h.LastOffsetDelta = -1 }), code: kerr.InvalidRecord,
			msg: "lastOffsetDelta -1 is negative"},
		{name: "no records", b: rewrite(good, []byte{}, func(h *Header) { h.NumRecords, h.LastOffsetDelta = 0, 0 }), code: kerr.InvalidRecord,
			msg: "numRecords 0: a batch must hold at least one record"},
		{name: "control batch", b: rewrite(good, nil, func(h *Header) { h.Attributes |= AttrControl }), code: kerr.InvalidRecord,
			msg: "clients may not produce control batches"},
		{name: "codec 5", b: rewrite(good, nil, func(h *Header) { h.Attributes |= 5 }), code: kerr.UnsupportedCompressionType,
			msg: "unknown compression codec 5"},
		{name: "codec 7", b: rewrite(good, nil, func(h *Header) { h.Attributes |= 7 }), code: kerr.UnsupportedCompressionType,
			msg: "unknown compression codec 7"},
		{name: "producer without sequence", b: rewrite(good, nil, func(h *Header) { h.ProducerID, h.BaseSequence = 7, -1 }),
			code: kerr.InvalidRecord, msg: "baseSequence -1 with producerId 7"},
		{name: "no producer, no sequence", b: rewrite(good, nil, func(h *Header) { h.ProducerID, h.BaseSequence = -1, -1 })},

		{name: "broken record unchecked", b: rewrite(good, body[:len(body)-1], nil)},
		{name: "broken record", b: rewrite(good, body[:len(body)-1], nil), opt: ValidateOptions{CheckRecords: true},
			code: kerr.CorruptMessage, msg: "record 2: length"},
		{name: "fewer records than declared", b: rewrite(good, body[:firstRec], nil), opt: ValidateOptions{CheckRecords: true},
			code: kerr.CorruptMessage, msg: "batch declares 3 records but holds 1"},
		{name: "bytes after records", b: rewrite(good, append(slices.Clone(body), 2, 0, 0), nil), opt: ValidateOptions{CheckRecords: true},
			code: kerr.CorruptMessage, msg: "3 bytes after the 3 records the batch declares"},
		{name: "offset deltas", b: gappy, opt: ValidateOptions{CheckRecords: true}, code: kerr.InvalidRecord,
			msg: "record 1 has offsetDelta 2, want 1"},
		{name: "compressed records not walked", b: rewrite(goodZstd, []byte("not zstd"), nil), opt: ValidateOptions{CheckRecords: true}},

		{name: "null key", b: Build(noPID, nullKey, now), opt: ValidateOptions{RequireKeys: true, TopicPartition: "kv-3"}, code: kerr.InvalidRecord,
			msg: "One or more records have been rejected due to 1 record errors in total, and only showing the first three errors at most: " +
				"[RecordError(batchIndex=1, message='Compacted topic cannot accept message without key in topic partition kv-3')]"},
		{name: "null key allowed", b: Build(noPID, nullKey, now), opt: ValidateOptions{CheckRecords: true}},
		{name: "null key lz4", b: Build(BuildOptions{ProducerID: -1, Codec: CodecLZ4}, nullKey, now), opt: ValidateOptions{RequireKeys: true},
			code: kerr.InvalidRecord, msg: "[RecordError(batchIndex=1, message='Compacted topic cannot accept message without key in topic partition ')]"},
		{name: "undecompressable", b: rewrite(goodZstd, []byte("not zstd"), nil), opt: ValidateOptions{RequireKeys: true},
			code: kerr.CorruptMessage, msg: "decompress zstd"},
		{name: "decompression bomb", b: bomb, opt: ValidateOptions{RequireKeys: true, MaxDecompressedBytes: 1 << 20},
			code: kerr.MessageTooLarge, msg: "gzip records decompress to more than 1048576 bytes"},

		{name: "timestamps in bounds", b: good, opt: ValidateOptions{Now: now + 10, TimestampBeforeMaxMs: 10, TimestampAfterMaxMs: 1}},
		{name: "timestamp too old", b: good, opt: ValidateOptions{Now: now + 11, TimestampBeforeMaxMs: 10}, code: kerr.InvalidTimestamp,
			msg: "record 0 timestamp 1700000000000 is outside [1700000000001, "},
		{name: "timestamp in the future", b: goodZstd, opt: ValidateOptions{Now: now, TimestampAfterMaxMs: 1}, code: kerr.InvalidTimestamp,
			msg: "record 2 timestamp 1700000000002 is outside"},
		{name: "log append time skips timestamp bounds", b: logAppendTime(good, now), opt: ValidateOptions{Now: 1, TimestampAfterMaxMs: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Validate(tc.b, tc.opt)
			if tc.code == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if h.TotalSize() != len(tc.b) {
					t.Fatalf("returned header %+v", h)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("want *Error %s, got %T %v", tc.code.Message, err, err)
			}
			if e.Code != tc.code.Code || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("got %v\nwant %s with %q", err, tc.code.Message, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "batch: "+tc.code.Message+": ") {
				t.Fatalf("Error() = %q does not name %s", err.Error(), tc.code.Message)
			}
		})
	}
}

// TestValidateKeylessRecordErrors: every keyless record of a batch for a
// compacted topic is reported, as Kafka reports record errors; the message
// shows the first three.
func TestValidateKeylessRecordErrors(t *testing.T) {
	recs := keyedRecords(8)
	for _, i := range []int{1, 2, 4, 7} {
		recs[i].Key = nil
	}
	_, err := Validate(Build(BuildOptions{ProducerID: -1, Codec: CodecSnappy}, recs, 1), ValidateOptions{RequireKeys: true, TopicPartition: "t-0"})
	e, ok := err.(*Error)
	if !ok || e.Code != kerr.InvalidRecord.Code {
		t.Fatalf("got %v, want INVALID_RECORD", err)
	}
	var idx []int32
	for _, r := range e.Records {
		if r.Message != "Compacted topic cannot accept message without key in topic partition t-0" {
			t.Fatalf("record error message %q", r.Message)
		}
		idx = append(idx, r.Index)
	}
	if fmt.Sprint(idx) != "[1 2 4 7]" {
		t.Fatalf("record errors at %v, want [1 2 4 7]", idx)
	}
	if !strings.HasPrefix(e.Msg, "One or more records have been rejected due to 4 record errors in total") ||
		strings.Count(e.Msg, "RecordError(") != 3 {
		t.Fatalf("message %q", e.Msg)
	}
}

func setByte(b []byte, i int, v byte) []byte {
	out := slices.Clone(b)
	out[i] = v
	return out
}

// shortHeader returns 40 bytes of b whose length field agrees with 40.
func shortHeader(b []byte) []byte {
	out := slices.Clone(b[:40])
	binary.BigEndian.PutUint32(out[offLength:], 40-12)
	return out
}

func logAppendTime(b []byte, ts int64) []byte {
	out := slices.Clone(b)
	SetLogAppendTime(out, ts)
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func hex8(v uint32) string { return fmt.Sprintf("%08x", v) }
