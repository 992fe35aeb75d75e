package batch

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestParseHeaderMatchesKmsg(t *testing.T) {
	b := Build(BuildOptions{
		BaseOffset: 1234567, Codec: CodecLZ4, ProducerID: 99, ProducerEpoch: 7, BaseSequence: 41,
		Attributes: AttrTransactional, PartitionLeaderEpoch: 12,
	}, sampleRecords(), 1_700_000_000_000)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		BaseOffset: 1234567, Length: int32(len(b) - 12), PartitionLeaderEpoch: 12, Magic: 2, CRC: CRC(b),
		Attributes: AttrTransactional | int16(CodecLZ4), LastOffsetDelta: 3,
		BaseTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000 + 1<<40,
		ProducerID: 99, ProducerEpoch: 7, BaseSequence: 41, NumRecords: 4,
	}
	if h != want {
		t.Fatalf("header\n got %+v\nwant %+v", h, want)
	}
	kb, _ := kgoRecords(t, b)
	if kb.FirstOffset != h.BaseOffset || kb.Length != h.Length || uint32(kb.CRC) != h.CRC ||
		kb.Attributes != h.Attributes || kb.FirstTimestamp != h.BaseTimestamp || kb.MaxTimestamp != h.MaxTimestamp ||
		kb.ProducerID != h.ProducerID || kb.FirstSequence != h.BaseSequence || kb.NumRecords != h.NumRecords {
		t.Fatalf("kmsg reads %+v, we read %+v", kb, h)
	}
	if h.TotalSize() != len(b) || h.LastOffset() != 1234570 || h.NextOffset() != 1234571 {
		t.Fatalf("TotalSize %d (len %d) LastOffset %d NextOffset %d", h.TotalSize(), len(b), h.LastOffset(), h.NextOffset())
	}
}

func TestParseHeaderShort(t *testing.T) {
	b := Build(BuildOptions{ProducerID: -1}, keyedRecords(1), 0)
	if _, err := ParseHeader(b[:HeaderLen-1]); !errors.Is(err, ErrShort) {
		t.Fatalf("60 bytes: got %v, want ErrShort", err)
	}
	if _, err := ParseHeader(b[:HeaderLen]); err != nil {
		t.Fatalf("61 bytes: %v", err)
	}
}

func TestAttributeBits(t *testing.T) {
	for _, tc := range []struct {
		attr          int16
		codec         Codec
		lat, txn, ctl bool
	}{
		{0, CodecNone, false, false, false},
		{0x04, CodecZstd, false, false, false},
		{0x08 | 0x02, CodecSnappy, true, false, false},
		{0x10 | 0x01, CodecGzip, false, true, false},
		{0x20 | 0x10, CodecNone, false, true, true},
		{0x7f, Codec(7), true, true, true},
	} {
		h := Header{Attributes: tc.attr}
		if h.Codec() != tc.codec || h.LogAppendTime() != tc.lat || h.Transactional() != tc.txn || h.Control() != tc.ctl {
			t.Errorf("attributes %#x: codec %s lat %v txn %v ctl %v", tc.attr, h.Codec(), h.LogAppendTime(), h.Transactional(), h.Control())
		}
	}
}

func TestCodecString(t *testing.T) {
	got := []string{}
	for c := Codec(0); c <= 5; c++ {
		got = append(got, c.String())
	}
	if s := strings.Join(got, ","); s != "none,gzip,snappy,lz4,zstd,codec(5)" {
		t.Fatal(s)
	}
}

// CRC-32C of "123456789" is the standard check value 0xE3069283; CRC must
// start at byte 21.
func TestCRCIsCastagnoliFromByte21(t *testing.T) {
	b := append(make([]byte, 21), "123456789"...)
	for i := range 21 {
		b[i] = byte(i * 7) // bytes before 21 must not matter
	}
	if got := CRC(b); got != 0xE3069283 {
		t.Fatalf("CRC = %#x, want 0xe3069283", got)
	}
	if CRC(b[:20]) != 0 {
		t.Fatal("CRC of a too-short slice should be 0")
	}
}

func TestInPlaceRewritesKeepCRC(t *testing.T) {
	b := Build(BuildOptions{ProducerID: -1, Codec: CodecGzip}, sampleRecords(), 1000)
	SetBaseOffset(b, 1<<40+5)
	SetLeaderEpoch(b, 77)
	if !VerifyCRC(b) {
		t.Fatal("CRC no longer verifies after rewriting baseOffset and leader epoch")
	}
	h, _ := ParseHeader(b)
	if h.BaseOffset != 1<<40+5 || h.PartitionLeaderEpoch != 77 {
		t.Fatalf("header after rewrite: %+v", h)
	}
	if _, err := Validate(b, ValidateOptions{AllowNonZeroBaseOffset: true, RequireKeys: false, CheckRecords: true}); err != nil {
		t.Fatal(err)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	b := Build(BuildOptions{ProducerID: -1, Codec: CodecSnappy, Attributes: AttrTransactional}, sampleRecords(), 1000)
	SetLogAppendTime(b, 5555)
	if !VerifyCRC(b) {
		t.Fatal("CRC does not verify after SetLogAppendTime")
	}
	h, _ := ParseHeader(b)
	if !h.LogAppendTime() || h.MaxTimestamp != 5555 || h.BaseTimestamp != 1000 || h.Codec() != CodecSnappy || !h.Transactional() {
		t.Fatalf("header after SetLogAppendTime: %+v", h)
	}
	var got []int64
	if err := RecordTimestamps(b, func(off, ts int64) bool { got = append(got, off, ts); return true }); err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 5555, 1, 5555, 2, 5555, 3, 5555}; !slices.Equal(got, want) {
		t.Fatalf("offsets/timestamps %v, want %v", got, want)
	}
	kb, _ := kgoRecords(t, b)
	if kb.Attributes&0x08 == 0 || kb.MaxTimestamp != 5555 {
		t.Fatalf("kmsg sees attributes %#x max timestamp %d", kb.Attributes, kb.MaxTimestamp)
	}
}

func TestVerifyCRC(t *testing.T) {
	b := Build(BuildOptions{ProducerID: -1}, keyedRecords(3), 0)
	if !VerifyCRC(b) || !VerifyCRC(append(b[:len(b):len(b)], 1, 2, 3)) {
		t.Fatal("valid batch (with or without trailing bytes) does not verify")
	}
	bad := append([]byte{}, b...)
	bad[len(bad)-1] ^= 1
	if VerifyCRC(bad) || VerifyCRC(b[:len(b)-1]) || VerifyCRC(b[:30]) {
		t.Fatal("flipped bit, truncated batch or short header verifies")
	}
}

func TestErrorNamesKafkaCode(t *testing.T) {
	err := error(&Error{Code: kerr.InvalidRecord.Code, Msg: "lastOffsetDelta 4 but 3 records"})
	if s := err.Error(); s != "batch: INVALID_RECORD: lastOffsetDelta 4 but 3 records" {
		t.Fatal(s)
	}
	if !errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage) {
		t.Fatal("errors.Is does not follow the Kafka code")
	}
	if ErrorCode(err) != 87 || ErrorCode(nil) != 0 || ErrorCode(errors.New("x")) != kerr.CorruptMessage.Code {
		t.Fatal("ErrorCode")
	}
}
