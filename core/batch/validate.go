package batch

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ValidateOptions select the checks Validate makes beyond the header. The
// zero value checks the header only, with no size limit.
type ValidateOptions struct {
	MaxBatchBytes int32 // topic max.message.bytes; 0 = unlimited
	RequireKeys   bool  // compacted topic: every record needs a non-null key (decompresses)
	CheckRecords  bool  // walk the records of uncompressed batches: framing, count, offset deltas 0..n-1

	// AllowNonZeroBaseOffset accepts a baseOffset other than 0. Apache
	// Kafka refuses those from clients (INVALID_RECORD).
	AllowNonZeroBaseOffset bool

	// TimestampBeforeMaxMs and TimestampAfterMaxMs bound CreateTime record
	// timestamps to [Now-before, Now+after] as the topic configs
	// message.timestamp.before.max.ms and message.timestamp.after.max.ms
	// do (INVALID_TIMESTAMP); 0 = unlimited. Setting either walks the
	// records, decompressing if needed. Now is in ms; 0 means time.Now().
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
	Now                  int64

	// MaxDecompressedBytes bounds decompression when records are walked;
	// 0 = DefaultMaxDecompressed. Beyond it the batch is MESSAGE_TOO_LARGE.
	MaxDecompressedBytes int

	// TopicPartition names the partition in messages ("orders-0", as
	// Kafka writes it).
	TopicPartition string
}

// Validate checks that b is exactly one whole v2 record batch as a producer
// sends it, making the checks Apache Kafka makes on produce, and returns its
// header. A failure is an *Error with the Kafka error code to answer:
//
//	CORRUPT_MESSAGE               b is too short, its length field disagrees with len(b),
//	                              the CRC does not match, or (walking records) a record is
//	                              malformed or the record count is wrong
//	INVALID_RECORD                magic is not 2 (produce v3+ needs magic 2), baseOffset is
//	                              not 0, numRecords <= 0, lastOffsetDelta+1 != numRecords,
//	                              a control batch, a producer id without a sequence, (walking)
//	                              offset deltas other than 0..n-1 or a null key on a compacted topic
//	MESSAGE_TOO_LARGE             the batch exceeds MaxBatchBytes (or decompresses past the bound)
//	UNSUPPORTED_COMPRESSION_TYPE  codec bits 5..7
//	INVALID_TIMESTAMP             a record timestamp is outside the configured bounds
//
// The checks run in that spirit from framing to content, so the first error
// reported is the most basic one.
func Validate(b []byte, opt ValidateOptions) (Header, error) {
	if len(b) <= offMagic {
		return Header{}, errorf(kerr.CorruptMessage, "%d bytes is too short for a record batch", len(b))
	}
	length := int32(binary.BigEndian.Uint32(b[offLength:]))
	if int64(length)+LogOverhead != int64(len(b)) {
		return Header{}, errorf(kerr.CorruptMessage, "length field %d implies %d bytes but the batch is %d bytes",
			length, int64(length)+LogOverhead, len(b))
	}
	if m := int8(b[offMagic]); m != MagicV2 {
		return Header{}, errorf(kerr.InvalidRecord, "magic %d: produce v3+ requires record batch magic 2", m)
	}
	h, err := ParseHeader(b)
	if err != nil {
		return Header{}, errorf(kerr.CorruptMessage, "%d bytes is shorter than the %d-byte batch header", len(b), HeaderLen)
	}
	if h.BaseOffset != 0 && !opt.AllowNonZeroBaseOffset {
		return h, errorf(kerr.InvalidRecord, "baseOffset %d: a produced batch must start at offset 0", h.BaseOffset)
	}
	if opt.MaxBatchBytes > 0 && len(b) > int(opt.MaxBatchBytes) {
		return h, errorf(kerr.MessageTooLarge, "batch of %d bytes exceeds max.message.bytes %d", len(b), opt.MaxBatchBytes)
	}
	if crc := CRC(b); crc != h.CRC {
		return h, errorf(kerr.CorruptMessage, "crc mismatch: header 0x%08x computed 0x%08x", h.CRC, crc)
	}
	if h.LastOffsetDelta < 0 {
		return h, errorf(kerr.InvalidRecord, "lastOffsetDelta %d is negative", h.LastOffsetDelta)
	}
	if h.NumRecords <= 0 {
		return h, errorf(kerr.InvalidRecord, "numRecords %d: a batch must hold at least one record", h.NumRecords)
	}
	if int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) {
		return h, errorf(kerr.InvalidRecord, "lastOffsetDelta %d but %d records", h.LastOffsetDelta, h.NumRecords)
	}
	if h.Control() {
		return h, errorf(kerr.InvalidRecord, "clients may not produce control batches")
	}
	if !h.Codec().Known() {
		return h, errorf(kerr.UnsupportedCompressionType, "unknown compression codec %d", h.Codec())
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return h, errorf(kerr.InvalidRecord, "baseSequence %d with producerId %d: idempotent batches need a sequence >= 0",
			h.BaseSequence, h.ProducerID)
	}
	checkTS := (opt.TimestampBeforeMaxMs > 0 || opt.TimestampAfterMaxMs > 0) && !h.LogAppendTime()
	if !(opt.CheckRecords && h.Codec() == CodecNone) && !opt.RequireKeys && !checkTS {
		return h, nil
	}
	return h, validateRecords(b, h, opt, checkTS)
}

// validateRecords walks the records of the (header-valid) batch b.
func validateRecords(b []byte, h Header, opt ValidateOptions, checkTS bool) error {
	data, err := recordData(b, h, opt.MaxDecompressedBytes)
	if err != nil {
		return err
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if checkTS {
		now := opt.Now
		if now == 0 {
			now = time.Now().UnixMilli()
		}
		if before := opt.TimestampBeforeMaxMs; before > 0 && now >= math.MinInt64+before {
			lo = now - before
		}
		if after := opt.TimestampAfterMaxMs; after > 0 && now <= math.MaxInt64-after {
			hi = now + after
		}
	}
	var keyless []RecordError
	err = walkRecords(data, h.NumRecords, false, func(i int, r *Record) error {
		if r.OffsetDelta != int32(i) {
			return errorf(kerr.InvalidRecord, "record %d has offsetDelta %d, want %d", i, r.OffsetDelta, i)
		}
		if opt.RequireKeys && r.Key == nil {
			keyless = append(keyless, RecordError{Index: int32(i),
				Message: "Compacted topic cannot accept message without key in topic partition " + opt.TopicPartition})
		}
		if checkTS {
			if ts := h.BaseTimestamp + r.TimestampDelta; ts != -1 && (ts < lo || ts > hi) {
				return errorf(kerr.InvalidTimestamp, "record %d timestamp %d is outside [%d, %d]", i, ts, lo, hi)
			}
		}
		return nil
	})
	if err == nil && keyless != nil {
		return recordErrors(kerr.InvalidRecord, keyless)
	}
	return err
}

// recordErrors is the error Apache Kafka answers for a batch refused for
// some of its records: the code, a message listing at most three of them
// and every record error.
func recordErrors(code *kerr.Error, errs []RecordError) *Error {
	var b strings.Builder
	fmt.Fprintf(&b, "One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: [", len(errs))
	for i, e := range errs[:min(len(errs), 3)] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "RecordError(batchIndex=%d, message='%s')", e.Index, e.Message)
	}
	b.WriteString("]")
	return &Error{Code: code.Code, Msg: b.String(), Records: errs}
}
