// Package batch parses, validates, builds and iterates Kafka record batches
// (message format v2, "magic 2"), the unit in which producers send records,
// the log stores them and consumers fetch them. It is the lowest layer of the
// broker's data path and imports no other streamd package.
//
// # Batch layout
//
// All integers are big-endian. Offsets below are byte positions from the start
// of the batch; the header is HeaderLen (61) bytes.
//
//	offset size  field
//	     +-----+-----------------------------------+
//	   0 |   8 | baseOffset            int64       |
//	   8 |   4 | length                int32       |
//	     +-----+-----------------------------------+ <- length counts from here
//	  12 |   4 | partitionLeaderEpoch  int32       |
//	  16 |   1 | magic                 int8 (2)    |
//	  17 |   4 | crc                   uint32      |
//	     +-----+-----------------------------------+ <- crc covers from here
//	  21 |   2 | attributes            int16       |
//	  23 |   4 | lastOffsetDelta       int32       |
//	  27 |   8 | baseTimestamp         int64 ms    |
//	  35 |   8 | maxTimestamp          int64 ms    |
//	  43 |   8 | producerId            int64 (-1)  |
//	  51 |   2 | producerEpoch         int16       |
//	  53 |   4 | baseSequence          int32       |
//	  57 |   4 | numRecords            int32       |
//	     +-----+-----------------------------------+ <- HeaderLen (61)
//	  61 |   * | records, one compressed blob when |
//	     |     | the codec bits are not 0          |
//	     +-----+-----------------------------------+ <- end of length and crc
//
// length counts everything after the length field, so a batch occupies
// length+12 bytes (Header.TotalSize). The CRC is CRC-32C (Castagnoli) over byte
// 21 to the end, so baseOffset and partitionLeaderEpoch can be rewritten in
// place (SetBaseOffset, SetLeaderEpoch) without recomputing it; changing
// attributes or timestamps (SetLogAppendTime) needs a new CRC.
//
// Attributes (int16):
//
//	bit   15..7   6               5         4               3               2..0
//	     +-------+---------------+---------+---------------+---------------+-------+
//	     | 0     | delete horizon| control | transactional | timestamp type| codec |
//	     +-------+---------------+---------+---------------+---------------+-------+
//	codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd (5-7 unknown)
//	timestamp type: 0 CreateTime (producer's), 1 LogAppendTime (broker's, = maxTimestamp)
//
// # Record layout
//
// After the header come numRecords records. For a compressed batch the whole
// record sequence is compressed as one blob with the batch's codec (gzip
// stream, raw or xerial-framed snappy, lz4 frame, zstd frame). Each record is:
//
//	length          varint   bytes of the record after this field
//	attributes      int8     unused, 0
//	timestampDelta  varlong  ms from baseTimestamp
//	offsetDelta     varint   offset from baseOffset (i for the i-th record when produced)
//	keyLength       varint   -1 for a null key
//	key             bytes
//	valueLength     varint   -1 for a null value
//	value           bytes
//	headerCount     varint
//	  headerKeyLength   varint  (never null)
//	  headerKey         bytes   (UTF-8)
//	  headerValueLength varint  -1 for a null value
//	  headerValue       bytes
//
// varint and varlong are zigzag-encoded base-128 variable-length integers
// (as encoding/binary.PutVarint writes them), bounded to int32 and int64.
//
// # Use
//
// On produce the broker cuts the partition's record set with Split, checks
// each batch with Validate, then stamps it in place with SetBaseOffset,
// SetLeaderEpoch and, for LogAppendTime topics, SetLogAppendTime before
// appending the bytes unchanged. On startup, storage runs Scan over a
// segment's tail and truncates it to the valid prefix. Records and
// RecordTimestamps decode what is stored; Build and Compress make batches.
//
// # Errors
//
// Validation failures are *Error values carrying the Kafka error code a
// broker answers with (CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE,
// UNSUPPORTED_COMPRESSION_TYPE, INVALID_TIMESTAMP) and a message naming what
// was wrong. errors.Is(err, kerr.X) works through Unwrap.
package batch

// Sizes and positions of the v2 batch header: part of the format.
const (
	HeaderLen   = 61 // bytes of the batch header before the first record
	LogOverhead = 12 // baseOffset + length: the bytes not counted by length
	MagicV2     = 2  // the only magic this package reads

	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21 // the CRC covers from here to the end
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// minLength is the smallest legal length field: the header after it.
	minLength = HeaderLen - LogOverhead
)

// Attribute bits: part of the format.
const (
	AttrCodecMask     int16 = 0x07 // bits 0-2: compression codec
	AttrLogAppendTime int16 = 0x08 // bit 3: timestamps are the broker's append time
	AttrTransactional int16 = 0x10 // bit 4: batch belongs to a transaction
	AttrControl       int16 = 0x20 // bit 5: batch holds a control record (commit/abort marker)
	AttrDeleteHorizon int16 = 0x40 // bit 6: baseTimestamp is the compaction delete horizon
)
