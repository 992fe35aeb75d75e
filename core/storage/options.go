package storage

import (
	"errors"
	"time"
)

// Errors returned by a Log. Broker code maps ErrOffsetOutOfRange to Kafka's
// OFFSET_OUT_OF_RANGE; the others are internal (UNKNOWN_SERVER_ERROR, or
// NOT_LEADER_OR_FOLLOWER for a log closed underneath a request).
var (
	// ErrClosed is returned by every method of a closed Log.
	ErrClosed = errors.New("storage: log closed")
	// ErrOffsetOutOfRange is returned for an offset below the log start
	// offset or above the log end offset, and by DeleteRecords for an offset
	// above the high watermark.
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	// ErrFailed wraps the I/O error that stopped a log: after a failed write
	// or fsync the log accepts no more appends (the state of the page cache
	// is unknown); reopen it to recover.
	ErrFailed = errors.New("storage: log failed")
)

// Defaults applied by Open to zero Options fields.
const (
	DefaultSegmentBytes       = 1 << 30 // Kafka's segment.bytes default
	DefaultIndexIntervalBytes = 4096    // Kafka's index.interval.bytes default
	DefaultFlushInterval      = time.Second
	DefaultCheckpointInterval = time.Second
)

// Options configure one Log. The zero value is usable: 1 GiB segments, no
// time-based roll, an index entry every 4 KiB, no fsync before the high
// watermark advances, background flush every second.
type Options struct {
	// SegmentBytes: roll to a new segment when an append would make the
	// active one larger (a bigger batch still goes alone into an empty
	// segment). <= 0 means DefaultSegmentBytes; capped at MaxSegmentBytes.
	SegmentBytes int64
	// SegmentMs: roll when the active segment's first append is at least this
	// old (checked at append). <= 0 disables time-based rolling.
	SegmentMs int64
	// SegmentJitterMs (Kafka's segment.jitter.ms): each segment rolls that
	// much earlier than SegmentMs for a random amount in [0, min(SegmentJitterMs,
	// SegmentMs)), drawn once per segment, so partitions created together do
	// not all roll at once. <= 0: no jitter.
	SegmentJitterMs int64
	// IndexIntervalBytes: log bytes between offset index entries. <= 0 means
	// DefaultIndexIntervalBytes.
	IndexIntervalBytes int32
	// Fsync: the high watermark advances only after the data is fdatasynced
	// (group commit by the Flusher). false: the high watermark is the log end
	// offset at once and data is synced in the background.
	Fsync bool
	// DirectIO: with Fsync, the active segment is appended with O_DIRECT
	// writes from memory instead of through the page cache (see direct.go).
	// Ignored without Fsync, and where the file system refuses O_DIRECT.
	DirectIO bool
	// FlushInterval: background flush period when !Fsync. <= 0 means
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// CheckpointInterval: the recovery point is written at most this often
	// (and at Close). It bounds what Open must scan after a crash. <= 0 means
	// DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// Now returns the wall time used for segment ages. nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentBytes > MaxSegmentBytes {
		o.SegmentBytes = MaxSegmentBytes
	}
	if o.IndexIntervalBytes <= 0 {
		o.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
