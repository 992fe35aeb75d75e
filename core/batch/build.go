package batch

import (
	"encoding/binary"
	"fmt"
)

// BuildOptions describe the batch Build encodes. ProducerID 0 is a real
// producer id: set -1 for a batch without one, as non-idempotent producers do.
type BuildOptions struct {
	BaseOffset           int64
	Codec                Codec
	ProducerID           int64 // -1 for none
	ProducerEpoch        int16
	BaseSequence         int32
	Attributes           int16 // extra bits, e.g. AttrTransactional, AttrControl; codec bits are replaced by Codec
	PartitionLeaderEpoch int32

	// KeepOffsetDeltas keeps each record's OffsetDelta (compaction keeps
	// gaps). By default the i-th record gets OffsetDelta i, as a producer
	// assigns them.
	KeepOffsetDeltas bool
	// LastOffsetDelta, if larger than the last record's offset delta, is
	// used instead (a compacted batch keeps its original last offset).
	LastOffsetDelta int32
}

// Build encodes a valid v2 batch of records: codec applied, LastOffsetDelta,
// MaxTimestamp (baseTimestamp plus the largest TimestampDelta), NumRecords,
// Length and CRC computed. It panics if opt.Codec is unknown (a programming
// error); compression itself cannot fail for known codecs.
func Build(opt BuildOptions, records []Record, baseTimestamp int64) []byte {
	var raw []byte
	lastDelta := opt.LastOffsetDelta
	maxTS := baseTimestamp
	for i := range records {
		r := &records[i]
		if !opt.KeepOffsetDeltas && r.OffsetDelta != int32(i) {
			cp := *r
			cp.OffsetDelta = int32(i)
			r = &cp
		}
		raw = appendRecord(raw, r)
		lastDelta = max(lastDelta, r.OffsetDelta)
		maxTS = max(maxTS, baseTimestamp+r.TimestampDelta)
	}
	body, err := Compress(opt.Codec, raw)
	if err != nil {
		panic(fmt.Sprintf("batch: Build: %v", err))
	}
	h := Header{
		BaseOffset:           opt.BaseOffset,
		Length:               int32(HeaderLen - LogOverhead + len(body)),
		PartitionLeaderEpoch: opt.PartitionLeaderEpoch,
		Magic:                MagicV2,
		Attributes:           opt.Attributes&^AttrCodecMask | int16(opt.Codec),
		LastOffsetDelta:      lastDelta,
		BaseTimestamp:        baseTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           opt.ProducerID,
		ProducerEpoch:        opt.ProducerEpoch,
		BaseSequence:         opt.BaseSequence,
		NumRecords:           int32(len(records)),
	}
	b := appendHeader(make([]byte, 0, HeaderLen+len(body)), h)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[offCRC:], CRC(b))
	return b
}
