// Package storage is the durable, per-partition log of the broker: segments of
// record batches, sparse offset and time indexes, crash recovery, and group
// commit (one fdatasync shared by every append that arrived while the previous
// one ran).
//
// # Directory layout
//
// One Log owns one partition directory:
//
//	<partition dir>/
//	  00000000000000000000.log        segment: batches [0, 1200)
//	  00000000000000000000.index      sparse offset index of that segment
//	  00000000000000000000.timeindex  time index of that segment
//	  00000000000000001200.log        active segment: batches [1200, LEO)
//	  00000000000000001200.index
//	  00000000000000001200.timeindex
//	  recovery-point                  what is known to be fsynced
//	  log-start-offset                first offset visible to readers
//	  leader-epoch-checkpoint         leader epoch -> first offset
//
// A segment is named after the offset of its first batch, printed as 20
// decimal digits (SegmentNameDigits). Any other file is left alone, except
// leftovers of interrupted writes (*.tmp, *.cleaned, *.swap, *.deleted) and
// index files without a .log, which Open deletes.
//
// # Segment file (.log)
//
// Record batches (message format v2, see package batch) concatenated exactly
// as stored, no framing of its own. Append rewrites each batch's baseOffset
// (the offset of its first record, assigned by the log) and
// partitionLeaderEpoch in place; neither is covered by the batch CRC.
//
//	+----------------------+----------------------+-----+----------------------+
//	| batch @ base         | batch @ base+n0      | ... | batch                |
//	| 61-byte header       | 61-byte header       |     |                      |
//	| records              | records              |     |                      |
//	+----------------------+----------------------+-----+----------------------+
//	0                      position p1            ...                       size
//
// Offsets are contiguous: each batch starts at the previous batch's last
// offset + 1, and a segment's first batch starts at the segment's base.
// A segment holds at most MaxSegmentBytes bytes, so positions fit in uint32,
// and at most 2^32 offsets, so relative offsets fit in uint32.
//
// # Offset index (.index)
//
// Sparse: one entry for the first batch that starts IndexIntervalBytes or more
// after the previous entry's batch (the batch at position 0 is never indexed,
// position 0 is implied). Entries are sorted by both fields. Big-endian:
//
//	+-----------------------------+-----------------------------+
//	| relative offset uint32      | position uint32             |  x N
//	| (batch baseOffset - base)   | (byte position in .log)     |
//	+-----------------------------+-----------------------------+
//	 OffsetIndexEntrySize = 8 bytes per entry
//
// To find offset o: take the last entry with relative offset <= o-base (or
// position 0), then walk batch headers forward.
//
// # Time index (.timeindex)
//
// One entry for every batch whose maxTimestamp exceeds the largest timestamp
// seen so far in the segment, so timestamps strictly increase and the last
// entry holds the segment's largest timestamp. Big-endian:
//
//	+-----------------------------------+-----------------------------+
//	| timestamp int64 (ms)              | relative offset uint32      |  x N
//	| (batch maxTimestamp)              | (batch baseOffset - base)   |
//	+-----------------------------------+-----------------------------+
//	 TimeIndexEntrySize = 12 bytes per entry
//
// The first entry whose timestamp is >= t names the first batch that can hold
// a record with timestamp >= t.
//
// Both indexes are derived data: the active segment keeps its entries in
// memory and writes them out in bulk when it is flushed; a missing or damaged
// index file is rebuilt by walking that segment's batch headers.
//
// # Checkpoint files
//
// Small text files. The first line is the format version (CheckpointVersion,
// 0). log-start-offset and leader-epoch-checkpoint are written to <name>.tmp,
// fsynced, renamed over <name>, and the directory fsynced, so a crash leaves
// the old or the new version. recovery-point, written every
// log.flush.offset.checkpoint.interval.ms, is instead always 128 bytes,
// overwritten in place with one write and an fdatasync (a rename would free a
// block each time, which a file system mounted with discard turns into a
// discard request). It fits in one sector, so a crash leaves the old or the new
// version; one that does not parse is ignored (a longer recovery scan).
//
//	recovery-point            "0\n<segment base> <byte position> <next offset>
//	                          <index entries> <time index entries>" + spaces
//	                          up to 127 bytes + "\n" (the two index counts
//	                          count that segment's entries below the point;
//	                          files written before the padding, without it,
//	                          are read the same)
//	log-start-offset          "0\n<offset>\n"
//	leader-epoch-checkpoint   "0\n<count>\n<epoch> <start offset>\n..." (the
//	                          same shape as Apache Kafka's file)
//
// recovery-point names a batch boundary up to which every segment has been
// fsynced together with its index files (for the point's own segment: the
// entries it counts).
//
// # Recovery
//
// Open trusts everything before the recovery point: those segments are not
// read, and their index files are only checked cheaply when first used. From
// the recovery point to the end, every batch is checked (header, CRC,
// contiguous offsets, via batch.Scan); the first torn or corrupt batch and all
// that follows it are cut off and logged. Start-up therefore reads only the
// tail written since the last checkpoint; a clean Close checkpoints the end of
// the log so the next Open reads nothing. Without a usable recovery point
// every segment is scanned.
//
// # Durability and visibility
//
// Append writes a batch with pwrite and returns; it does not fsync. With
// Options.Fsync the high watermark (what Read returns and WaitDurable waits
// for) only advances once a Flusher pass has fdatasynced the data: the pass
// takes every dirty log at once, syncs their files (a few at a time in
// parallel), then moves each log's high watermark to the end it had when the
// pass began. Appends that arrive during a pass wait for the next one, so
// concurrent producers share fsyncs. Without Options.Fsync the high watermark
// equals the log end offset at once and the Flusher syncs in the background
// every Options.FlushInterval.
//
// With Options.Fsync and Options.DirectIO, Append copies into an aligned
// in-memory tail instead of writing; a write-behind goroutine writes its whole
// blocks with O_DIRECT as they arrive, and the flush pass writes the rest
// before it syncs; ReadFile reads with O_DIRECT (or from a read-ahead cache)
// and returns the bytes in memory. On disk the format is the same, except
// that until the active segment is sealed or closed it may end in zero
// padding up to a 4 KiB boundary, or in whole blocks of batches not yet
// synced (recovery keeps whole batches and cuts the rest as a torn tail).
// See direct.go.
package storage

// On-disk names and sizes: part of the format.
const (
	SegmentNameDigits    = 20 // decimal digits of a segment's base offset in its file names
	LogSuffix            = ".log"
	IndexSuffix          = ".index"
	TimeIndexSuffix      = ".timeindex"
	OffsetIndexEntrySize = 8  // relative offset uint32 + position uint32
	TimeIndexEntrySize   = 12 // timestamp int64 + relative offset uint32

	RecoveryPointFile    = "recovery-point"
	LogStartOffsetFile   = "log-start-offset"
	LeaderEpochFile      = "leader-epoch-checkpoint"
	CheckpointVersion    = 0
	TempSuffix           = ".tmp"
	MaxSegmentBytes      = 1<<31 - 1 // segment size limit: positions fit in uint32 (Kafka's int segment.bytes)
	MaxSegmentOffsetSpan = 1<<32 - 1 // offsets per segment: relative offsets fit in uint32
)
