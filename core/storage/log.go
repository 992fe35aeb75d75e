package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamd/streamd/core/batch"
)

// Log is the durable log of one partition: a directory of segments. All
// methods are safe for concurrent use; appends are serialised, reads run
// concurrently with appends and with each other.
type Log struct {
	dir    string
	opts   Options
	fl     *Flusher
	logger *slog.Logger

	// Lock order: adminMu, flushMu, directTail.ioMu, rpMu, mu, epochMu, segment.lazyMu.
	adminMu sync.Mutex // serialises DeleteRecords, ApplyRetention and Close
	flushMu sync.Mutex // serialises flushes; guards lastCkpt, jobs, flushBuf
	// behindWG counts the write-behind goroutines of direct tails; Close
	// waits for them.
	behindWG sync.WaitGroup
	rpMu     sync.Mutex // serialises writes of the recovery-point file
	epochMu  sync.Mutex // serialises writes of the leader-epoch-checkpoint file

	mu       sync.RWMutex
	segs     []*segment // by base offset; the last one is active
	start    int64      // log start offset
	leo      int64      // log end offset: next offset to assign
	hwm      int64      // high watermark: offsets below are readable
	hwmSeg   int64      // base of the segment holding the hwm position
	hwmPos   int64      // byte position of the hwm in that segment
	size     int64      // bytes of all segments
	epochs   epochCache
	unsynced []*segment // segments written since their last fdatasync (each holds a reference)
	dirDirty bool       // a segment file was created since the last directory fsync
	flushed  recoveryPoint
	ckpt     recoveryPoint // last recovery point written to disk
	changed  chan struct{} // closed when hwm advances; nil until someone waits
	closed   bool
	noDirect atomic.Bool // O_DIRECT refused by the file system: append through the page cache
	// tailRead is when (unix ns) a read last asked for bytes within tailKeep
	// of the log end: while that is recent, flushes keep tail chunks for it.
	tailRead atomic.Int64
	released bool // segment files closed (end of Close)
	err      error

	queued, lazyQueued atomic.Bool // in the Flusher's urgent / timed set

	ra readAhead // direct logs: chunks read ahead of sequential readers

	lastCkpt time.Time
	jobs     []flushJob
	flushBuf []byte

	stats RecoveryStats // written by Open only
}

// AppendResult is the offsets Append assigned to a batch.
type AppendResult struct {
	BaseOffset, LastOffset int64
}

// ReadResult is one Read: whole batches and the log's offsets at that time.
type ReadResult struct {
	Data             []byte // whole batches, the first one holding the requested offset
	HighWatermark    int64
	LogStartOffset   int64
	LastStableOffset int64 // = HighWatermark (no transactions are tracked by the log)
}

// SegmentInfo describes one segment.
type SegmentInfo struct {
	BaseOffset   int64     // offset of its first batch (its file name)
	NextOffset   int64     // offset after its last batch
	Size         int64     // bytes
	MaxTimestamp int64     // largest batch maxTimestamp, -1 if none
	Created      time.Time // first append, or a stand-in after a restart (first batch's maxTimestamp, else file mtime)
}

// RecoveryStats describe what Open had to do.
type RecoveryStats struct {
	BytesScanned    int64 // segment bytes read and CRC-checked (the tail after the recovery point)
	SegmentsScanned int   // segments scanned (wholly or partly)
	BytesTruncated  int64 // bytes cut off: torn or corrupt tail, segments after it
	IndexesRebuilt  int   // index files rebuilt by walking a segment
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Append writes b, one validated v2 batch, at the end of the log. It
// rewrites the batch's baseOffset and partitionLeaderEpoch in place, writes
// it without fsync and hands the dirty data to the Flusher. The records
// become visible (HighWatermark) at once without Options.Fsync, and after
// the next fdatasync with it; see WaitDurable.
func (l *Log) Append(b []byte, leaderEpoch int32) (AppendResult, error) {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return AppendResult{}, fmt.Errorf("storage: append: %w", err)
	}
	if h.Magic != batch.MagicV2 || h.TotalSize() != len(b) || h.LastOffsetDelta < 0 {
		return AppendResult{}, fmt.Errorf("storage: append: not one whole v2 batch (magic %d, length field %d, %d bytes, lastOffsetDelta %d)",
			h.Magic, h.Length, len(b), h.LastOffsetDelta)
	}
	n := int64(len(b))
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	seg := l.segs[len(l.segs)-1]
	if l.shouldRollLocked(seg, n, h.LastOffsetDelta) {
		if seg, err = l.rollLocked(); err != nil {
			l.mu.Unlock()
			return AppendResult{}, err
		}
	}
	base := l.leo
	if l.epochs.assign(leaderEpoch, base) {
		if err := l.writeEpochsLocked(); err != nil {
			l.epochs.entries = l.epochs.entries[:len(l.epochs.entries)-1]
			l.mu.Unlock()
			return AppendResult{}, err
		}
	}
	batch.SetBaseOffset(b, base)
	batch.SetLeaderEpoch(b, leaderEpoch)
	pos := seg.size
	seg.reserve(pos+n, max(l.opts.SegmentBytes, pos+n))
	if seg.dio != nil {
		seg.dio.append(b, pos)
	} else if _, err := seg.f.WriteAt(b, pos); err != nil {
		seg.f.Truncate(pos) // best effort; the log is failed either way
		l.failLocked(fmt.Errorf("write %s: %w", seg.prefix+LogSuffix, err))
		err = l.err
		l.mu.Unlock()
		return AppendResult{}, err
	}
	if pos == 0 {
		seg.created = l.opts.Now()
	}
	seg.size += n
	l.size += n
	if t := seg.dio; t != nil && t.wantsWriteBehind(seg.size) {
		t.behind = true
		seg.acquire()
		l.behindWG.Add(1)
		go l.writeBehind(seg, t)
	}
	seg.mem.add(uint32(base-seg.base), pos, h.MaxTimestamp, seg.interval)
	last := base + int64(h.LastOffsetDelta)
	l.leo = last + 1
	seg.next = l.leo
	if !seg.inUnsynced {
		seg.inUnsynced = true
		seg.acquire()
		l.unsynced = append(l.unsynced, seg)
	}
	if !l.opts.Fsync {
		l.setHWMLocked(l.leo, seg.base, seg.size)
	}
	l.mu.Unlock()
	l.scheduleFlush()
	return AppendResult{BaseOffset: base, LastOffset: last}, nil
}

func (l *Log) usableLocked() error {
	if l.closed {
		return ErrClosed
	}
	return l.err
}

func (l *Log) shouldRollLocked(seg *segment, n int64, lastDelta int32) bool {
	if seg.size == 0 {
		return false
	}
	if seg.size+n > l.opts.SegmentBytes || l.leo+int64(lastDelta)-seg.base > MaxSegmentOffsetSpan {
		return true
	}
	if l.opts.SegmentMs <= 0 {
		return false
	}
	if !seg.jitterDrawn {
		seg.rollJitter = rollJitter(l.opts.SegmentJitterMs, l.opts.SegmentMs)
		seg.jitterDrawn = true
	}
	return l.opts.Now().Sub(seg.created) >= time.Duration(l.opts.SegmentMs)*time.Millisecond-seg.rollJitter
}

// rollJitter draws a segment's roll jitter: uniform in [0, min(jitterMs,
// segmentMs)) milliseconds, as Kafka does.
func rollJitter(jitterMs, segmentMs int64) time.Duration {
	if n := min(jitterMs, segmentMs); n > 0 {
		return time.Duration(rand.Int64N(n)) * time.Millisecond
	}
	return 0
}

// rollLocked seals the active segment and starts a new one at the log end.
func (l *Log) rollLocked() (*segment, error) {
	old := l.segs[len(l.segs)-1]
	ns, err := createSegment(l.dir, l.leo, int64(l.opts.IndexIntervalBytes))
	if err != nil {
		return nil, err
	}
	if err := l.attachDirect(ns); err != nil { // cannot fail for an empty segment
		ns.remove(nil)
		ns.release()
		return nil, err
	}
	old.sealed = true
	if old.dio == nil { // a direct segment is cut by its last flush
		old.trimReserved()
	}
	if !old.inUnsynced { // its index files still need writing and syncing
		old.inUnsynced = true
		old.acquire()
		l.unsynced = append(l.unsynced, old)
	}
	l.segs = append(l.segs, ns)
	l.dirDirty = true
	return ns, nil
}

// scheduleFlush hands the log's dirty data to the Flusher, or syncs inline
// when there is none (nil or closed) and Fsync is on.
func (l *Log) scheduleFlush() {
	if l.opts.Fsync {
		if !l.fl.enqueue(l) {
			l.flush(flushNormal) // a failure is recorded in l.err
		}
		return
	}
	l.fl.enqueueLazy(l, l.opts.FlushInterval)
}

func (l *Log) setHWMLocked(off, segBase, pos int64) {
	if off <= l.hwm {
		return
	}
	l.hwm, l.hwmSeg, l.hwmPos = off, segBase, pos
	l.notifyLocked()
}

func (l *Log) notifyLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

func (l *Log) failLocked(err error) {
	if l.err != nil {
		return
	}
	l.err = fmt.Errorf("%w: %v", ErrFailed, err)
	l.logger.Error("storage: log failed; no more appends until reopened", "err", err)
	l.notifyLocked()
}

// Changed returns a channel that is closed when the high watermark next
// advances (or the log closes or fails). Take a new one after each wake-up.
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.err != nil {
		return closedChan
	}
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// WaitDurable returns nil once HighWatermark() > offset: the record at
// offset is durable and visible. It returns early with ctx's error, with
// ErrClosed if the log closes, or with the error of a failed log.
func (l *Log) WaitDurable(ctx context.Context, offset int64) error {
	for {
		l.mu.Lock()
		if l.hwm > offset {
			l.mu.Unlock()
			return nil
		}
		if err := l.usableLocked(); err != nil {
			l.mu.Unlock()
			return err
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// HighWatermark returns the offset below which records are readable (and,
// with Options.Fsync, durable).
func (l *Log) HighWatermark() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.hwm
}

// EndOffset returns the log end offset, the offset the next record gets.
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.leo
}

// StartOffset returns the log start offset, the first readable offset.
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start
}

// Size returns the bytes of all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// LeaderEpoch returns the latest leader epoch that appended, -1 if none.
func (l *Log) LeaderEpoch() int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.latest()
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch like Apache Kafka: the
// largest known epoch <= epoch and the offset where the epoch after it
// starts (the log end offset for the latest epoch); (-1, -1) for an epoch
// that is negative, newer than the latest, or when no epoch is known.
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.leo)
}

// LastRecovery returns what Open did to recover this log.
func (l *Log) LastRecovery() RecoveryStats { return l.stats }

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.dir }

// segmentForLocked returns the index of the segment that holds offset.
func (l *Log) segmentForLocked(offset int64) int {
	return sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
}

// viewLocked copies what a reader needs of s and takes a reference.
func (l *Log) viewLocked(s *segment) segView {
	v := segView{seg: s, next: s.next, limit: s.size}
	switch {
	case s.base == l.hwmSeg:
		v.limit = l.hwmPos
	case s.base > l.hwmSeg:
		v.limit = 0
	}
	if s.mem != nil {
		v.mem, v.off, v.ts = true, s.mem.off, s.mem.ts
	}
	s.acquire()
	return v
}

// Read returns whole batches starting with the one that holds offset, up to
// the high watermark and maxBytes in total; the first batch is returned
// whole even if it is larger than maxBytes (KIP-74). Data is empty for
// offset >= HighWatermark (up to the log end offset); other offsets outside
// [StartOffset, EndOffset] give ErrOffsetOutOfRange. Batches come from one
// segment per call.
func (l *Log) Read(offset int64, maxBytes int32) (ReadResult, error) {
	res, v, ok, err := l.startRead(offset)
	if !ok {
		return res, err
	}
	defer v.seg.release()

	pos, h, err := l.findBatch(&v, offset)
	if err != nil {
		return res, err
	}
	n := min(int64(max(maxBytes, 0)), v.limit-pos)
	n = max(n, int64(h.TotalSize()))
	buf := make([]byte, n)
	if _, err := v.seg.f.ReadAt(buf, pos); err != nil && err != io.EOF {
		return res, fmt.Errorf("storage: read: %w", err)
	}
	res.Data = buf[:wholeBatches(buf)]
	return res, nil
}

// startRead checks offset against the log and, when there is something to read,
// returns a view (holding a segment reference) of the segment that holds it. ok is
// false when the read ends here, with err or with nothing to read.
func (l *Log) startRead(offset int64) (res ReadResult, v segView, ok bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ReadResult{}, segView{}, false, ErrClosed
	}
	res = ReadResult{HighWatermark: l.hwm, LogStartOffset: l.start, LastStableOffset: l.hwm}
	if offset < l.start || offset > l.leo {
		return res, segView{}, false, ErrOffsetOutOfRange
	}
	if offset >= l.hwm {
		return res, segView{}, false, nil
	}
	return res, l.viewLocked(l.segs[l.segmentForLocked(offset)]), true, nil
}

// wholeBatches returns the length of the whole batches at the start of b.
func wholeBatches(b []byte) int {
	end := 0
	for end+batch.LogOverhead <= len(b) {
		n := int(int32(binary.BigEndian.Uint32(b[end+8:]))) + batch.LogOverhead
		if n < batch.HeaderLen || n > len(b)-end {
			break
		}
		end += n
	}
	return end
}

// findBatch returns the position and header of the batch holding offset in
// v's segment (below v.limit).
func (l *Log) findBatch(v *segView, offset int64) (int64, batch.Header, error) {
	oi, _, err := v.indexes(l.logger)
	if err != nil {
		return 0, batch.Header{}, err
	}
	rel := offset - v.seg.base
	pos, err := oi.floor(uint32(min(rel, math.MaxUint32)))
	if err != nil {
		return 0, batch.Header{}, err
	}
	var buf [batch.HeaderLen]byte
	first := true
	for pos < v.limit {
		h, err := l.readHeader(v.seg, pos, &buf)
		n := int64(h.TotalSize())
		bad := err != nil || h.Magic != batch.MagicV2 || n < batch.HeaderLen || pos+n > v.limit
		if first && pos > 0 && (bad || h.BaseOffset > offset) {
			// The index pointed somewhere wrong: rebuild it, walk from 0.
			l.logger.Warn("storage: offset index points to the wrong place; rebuilding",
				"segment", v.seg.base, "offset", offset, "position", pos)
			if !v.mem {
				v.seg.markIndexBad()
			}
			pos, first = 0, false
			continue
		}
		first = false
		if err != nil {
			return 0, batch.Header{}, err
		}
		if bad {
			return 0, batch.Header{}, fmt.Errorf("%w: segment %d position %d", errBadBatch, v.seg.base, pos)
		}
		if h.LastOffset() >= offset {
			return pos, h, nil
		}
		pos += n
	}
	return 0, batch.Header{}, fmt.Errorf("storage: offset %d not found in segment %d below position %d", offset, v.seg.base, v.limit)
}

// Segments describes the log's segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil
	}
	views := make([]segView, len(l.segs))
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		views[i] = l.viewLocked(s)
		out[i] = SegmentInfo{BaseOffset: s.base, NextOffset: s.next, Size: s.size, MaxTimestamp: -1, Created: s.created}
	}
	l.mu.RUnlock()
	for i := range views {
		if _, ti, err := views[i].indexes(l.logger); err == nil && ti.n > 0 {
			if e, err := ti.at(ti.n - 1); err == nil {
				out[i].MaxTimestamp = e.ts
			}
		}
		views[i].seg.release()
	}
	return out
}
