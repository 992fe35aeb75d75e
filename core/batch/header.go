package batch

import (
	"encoding/binary"
	"hash/crc32"
	"strconv"
)

// Codec is a batch compression codec, the low three attribute bits.
type Codec int8

// Codecs: part of the format.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// String returns the codec's Kafka name ("none", "gzip", "snappy", "lz4",
// "zstd") or "codec(N)" for an unknown one.
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

// Known reports whether c is one of the five codecs Kafka defines.
func (c Codec) Known() bool { return c >= CodecNone && c <= CodecZstd }

// Header is the decoded 61-byte header of a v2 record batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Codec returns the compression codec named by the attributes.
func (h Header) Codec() Codec { return Codec(h.Attributes & AttrCodecMask) }

// LogAppendTime reports whether the batch's timestamps are the broker's
// append time (attribute bit 3).
func (h Header) LogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// Transactional reports attribute bit 4.
func (h Header) Transactional() bool { return h.Attributes&AttrTransactional != 0 }

// Control reports attribute bit 5: the batch holds a transaction marker.
func (h Header) Control() bool { return h.Attributes&AttrControl != 0 }

// TotalSize is the number of bytes the whole batch occupies: Length + 12.
func (h Header) TotalSize() int { return int(h.Length) + LogOverhead }

// LastOffset is the offset of the batch's last record: BaseOffset +
// LastOffsetDelta.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset following the batch: LastOffset + 1.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// RecordTimestamp returns r's absolute timestamp in ms: MaxTimestamp for a
// LogAppendTime batch, BaseTimestamp + r.TimestampDelta otherwise.
func (h Header) RecordTimestamp(r Record) int64 {
	if h.LogAppendTime() {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + r.TimestampDelta
}

// ParseHeader decodes the header at the start of b, which needs at least
// HeaderLen bytes (ErrShort otherwise). It checks neither magic, length nor
// CRC; see Validate and VerifyCRC.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShort
	}
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}, nil
}

// appendHeader appends h's 61 bytes to dst exactly as given (no CRC is
// computed).
func appendHeader(dst []byte, h Header) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(h.BaseOffset))
	dst = be.AppendUint32(dst, uint32(h.Length))
	dst = be.AppendUint32(dst, uint32(h.PartitionLeaderEpoch))
	dst = append(dst, byte(h.Magic))
	dst = be.AppendUint32(dst, h.CRC)
	dst = be.AppendUint16(dst, uint16(h.Attributes))
	dst = be.AppendUint32(dst, uint32(h.LastOffsetDelta))
	dst = be.AppendUint64(dst, uint64(h.BaseTimestamp))
	dst = be.AppendUint64(dst, uint64(h.MaxTimestamp))
	dst = be.AppendUint64(dst, uint64(h.ProducerID))
	dst = be.AppendUint16(dst, uint16(h.ProducerEpoch))
	dst = be.AppendUint32(dst, uint32(h.BaseSequence))
	dst = be.AppendUint32(dst, uint32(h.NumRecords))
	return dst
}

// SetBaseOffset rewrites bytes 0..7 of the batch b in place. The CRC does not
// cover them, so it stays valid. b must hold at least 8 bytes.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off))
}

// SetLeaderEpoch rewrites the partition leader epoch (bytes 12..15) of the
// batch b in place. The CRC does not cover it. b must hold at least 16 bytes.
func SetLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime stamps the batch b with the broker's append time as Apache
// Kafka does for topics with message.timestamp.type=LogAppendTime: it sets
// attribute bit 3 and MaxTimestamp to ts (BaseTimestamp and the records are
// left alone; readers take every record's timestamp from MaxTimestamp) and
// recomputes the CRC. b must be one whole batch of at least HeaderLen bytes.
func SetLogAppendTime(b []byte, ts int64) {
	be := binary.BigEndian
	attr := int16(be.Uint16(b[offAttributes:]))
	if attr&AttrLogAppendTime != 0 && int64(be.Uint64(b[offMaxTimestamp:])) == ts {
		return
	}
	be.PutUint16(b[offAttributes:], uint16(attr|AttrLogAppendTime))
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], CRC(b))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC computes the batch checksum: CRC-32C over b[21:], from the attributes to
// the end of b. b should be exactly one batch. For len(b) < 21 it is the CRC
// of nothing (0).
func CRC(b []byte) uint32 {
	if len(b) < offAttributes {
		return 0
	}
	return crc32.Checksum(b[offAttributes:], castagnoli)
}

// VerifyCRC reports whether the batch at the start of b is whole (its length
// field fits in b) and its stored CRC matches its content. Bytes in b after
// the batch are ignored.
func VerifyCRC(b []byte) bool {
	if len(b) < HeaderLen {
		return false
	}
	n := int64(int32(binary.BigEndian.Uint32(b[offLength:]))) + LogOverhead
	if n < HeaderLen || n > int64(len(b)) {
		return false
	}
	return CRC(b[:n]) == binary.BigEndian.Uint32(b[offCRC:])
}
