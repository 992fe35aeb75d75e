package storage

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/streamd/streamd/core/batch"
)

// Log compaction (cleanup.policy=compact), after Apache Kafka's log cleaner.
//
// # What is cleaned
//
// Only sealed segments wholly below the high watermark whose index files are
// on disk are considered; the active segment is never touched (a recovery
// point left inside a sealed segment is moved first, by a checkpoint). Of
// those, the cleanable range is the longest prefix of segments whose largest
// timestamp is at least MinCompactionLagMs old. The range splits at the cleaner checkpoint
// (CleanerCheckpointFile, "0\n<offset>\n"): segments below it were cleaned
// before (the "clean" part, every key at most once), segments from it on are
// "dirty". DirtyRatio = dirty bytes / cleanable bytes; a pass runs when it is
// at least MinCleanableDirtyRatio, or when a dirty segment is older than
// MaxCompactionLagMs.
//
// A pass maps every key of the dirty part to its latest offset, then rewrites
// every cleanable segment keeping a record iff it has a key, no later record
// of that key is in the map, and it is not an expired tombstone.
//
// The map is an offsetMap (offsetmap.go): a table of 128-bit key digests
// that grows with the keys it holds, up to the number of offsets in the
// dirty part and at most maxOffsetMapBytes (128 MiB, about 4.19 M distinct
// keys).
// When the dirty part has more keys than fit, the pass cleans only a prefix,
// as Kafka does: it maps whole segments while the next one surely fits (and
// the first dirty segment until the map is full), rewrites the segments up
// to the last one mapped, keeping every record from the first unmapped
// offset on untouched, and checkpoints that offset; the next pass continues
// from there. Records below the checkpoint are never mapped again. Control
// batches are kept whole.
//
// A batch whose records all stay is copied byte for byte. A batch that loses
// records is rebuilt from the encodings of the records it keeps, copied as
// they are (records are never re-encoded: their offset and timestamp deltas
// stay valid, so offsets keep gaps and never move), compressed again with its
// own codec, under its header with base offset, last offset delta, producer
// id/epoch/base sequence, attributes, leader epoch, base and max timestamps
// preserved. A batch that loses every record is dropped, except the last
// batch of a segment, kept empty (no records, codec none) so the segment
// still ends at its original last offset and reads of offsets in the gap
// find the next batch. A segment where nothing changes is not written at
// all; one that changes is written from its first change on, after a copy of
// the unchanged bytes before it.
//
// # Cost
//
// A pass allocates nothing per record or batch: batches are decoded with
// batch.RecordIter and (de)compressed by a batch.Codecs into buffers reused
// for the whole pass (and, through a sync.Pool, by the next one). It is
// paced (compact_throttle.go): with DutyCycle < 1 it sleeps to work at most
// that fraction of the time, and its I/O is limited to IOBytesPerSecond. The
// cleaned file's blocks are reserved up front and written back every 128 KiB
// with sync_file_range, so the disk sees a steady trickle instead of bursts
// that a produce's fsync would have to wait for, and the final fdatasync has
// little left to write.
//
// Tombstones (null value) are removed once their timestamp is older than
// now-DeleteRetentionMs (simpler than Kafka's delete horizon, which counts
// from the first cleaning). Removing one is safe: every older record of its
// key in the cleanable range goes in the same pass, in an earlier or the same
// segment, and segments are swapped in offset order.
//
// # Swap protocol (crash safety)
//
// Segments are rewritten one at a time, oldest first. For segment <base>:
//
//  1. write <base>.log.cleaned, .index.cleaned, .timeindex.cleaned; fsync each
//  2. rename each *.cleaned to *.swap; fsync the directory
//  3. delete <base>.index and <base>.timeindex (stale indexes never pair with
//     the new data; a missing index is rebuilt)
//  4. rename <base>.log.swap over <base>.log: the commit point of the segment
//  5. rename the two index .swap files into place; fsync the directory
//  6. swap the segment object under Log.mu; readers holding the old one keep
//     reading its (now unlinked) file until they release it
//
// Open deletes *.cleaned and *.swap leftovers, so a crash before step 4 leaves
// the old segment (indexes rebuilt if step 3 ran), and one after it the new
// segment. As segments are committed in offset order, a crash in the middle
// of a pass leaves new segments followed by old ones; every such state is a
// valid compacted log (a record is only dropped in favour of a later one that
// is kept, or is an expired tombstone's predecessor, which sits in an earlier
// or the same segment). The cleaner checkpoint is written after the last
// segment, so an interrupted pass is simply redone.

// CleanerCheckpointFile holds the offset below which the log has been
// compacted (the first dirty offset).
const CleanerCheckpointFile = "cleaner-offset-checkpoint"

// errMapFull stops the map-building scan when the offset map is full.
var errMapFull = errors.New("storage: compact: offset map full")

// ErrCompactStopped is returned by Compact when CompactOptions.Stop closed.
var ErrCompactStopped = errors.New("storage: compaction stopped")

// CompactOptions configure one Compact pass (Kafka's topic settings of the
// same names).
type CompactOptions struct {
	Now                    time.Time       // zero: the log's clock
	DeleteRetentionMs      int64           // tombstones older than this are removed; < 0 keeps them
	MinCompactionLagMs     int64           // segments with newer records are not cleaned
	MinCleanableDirtyRatio float64         // skip the pass below this dirty ratio
	MaxCompactionLagMs     int64           // a dirty segment this old forces a pass; <= 0: never
	IOBytesPerSecond       float64         // throttle of reads + writes; <= 0 or +Inf/MaxFloat64: unlimited
	DutyCycle              float64         // most fraction of wall time the pass works; <= 0 or >= 1: no limit
	Stop                   <-chan struct{} // closed: abandon the pass (ErrCompactStopped)
	// Working, if set, is called when the pass starts its work (after the
	// dirty-ratio check) and the function it returns when the pass ends.
	Working func() (done func())
}

// CompactResult is what one Compact pass did.
type CompactResult struct {
	Cleaned                 bool    // a pass ran
	SegmentsCleaned         int     // segments rewritten
	BytesBefore, BytesAfter int64   // bytes of the cleanable range before and after
	DirtyRatio              float64 // dirty bytes / cleanable bytes, before the pass
	// Elapsed is the wall time of the pass; Paused how much of it the pass
	// slept for IOBytesPerSecond and DutyCycle.
	Elapsed, Paused time.Duration
}

// compacting holds the logs with a Compact pass in progress.
var compacting sync.Map

// compactHook, when set (tests), is called at each step of the swap
// protocol; an error aborts the pass at that point, leaving the files as
// they are.
var compactHook func(step string, base int64) error

func hook(step string, base int64) error {
	if compactHook != nil {
		return compactHook(step, base)
	}
	return nil
}

// planSeg is one cleanable segment.
type planSeg struct {
	v     segView
	size  int64
	maxTS int64
}

// Compact runs one log-compaction pass; see the comment at the top of
// compact.go for the rules and the crash-safe swap protocol. Passes on one log
// are serialised (a concurrent call returns at once with Cleaned false).
// Appends, reads, retention and DeleteRecords run concurrently; readers of a
// rewritten segment finish reading the old copy.
func (l *Log) Compact(opts CompactOptions) (res CompactResult, err error) {
	if _, busy := compacting.LoadOrStore(l, true); busy {
		return CompactResult{}, nil
	}
	defer compacting.Delete(l)
	if opts.Now.IsZero() {
		opts.Now = l.opts.Now()
	}
	// A recovery point inside a sealed segment would keep it (and every
	// later one) from being cleaned until the next checkpoint, which an idle
	// partition never writes: checkpoint now.
	l.mu.RLock()
	held := len(l.segs) > 1 && l.ckpt.pos > 0 && l.ckpt.seg >= l.segs[0].base && l.ckpt.seg < l.segs[len(l.segs)-1].base
	l.mu.RUnlock()
	if held {
		if err := l.flush(flushCheckpoint); err != nil {
			return res, err
		}
	}
	segs, err := l.compactableSegments()
	if err != nil {
		return CompactResult{}, err
	}
	defer func() {
		for _, p := range segs {
			p.v.seg.release()
		}
	}()
	if len(segs) == 0 {
		return CompactResult{}, nil
	}
	nowMs := opts.Now.UnixMilli()
	// Cleanable range: a prefix old enough for the minimum compaction lag.
	n := 0
	for n < len(segs) && (opts.MinCompactionLagMs <= 0 || segs[n].maxTS <= nowMs-opts.MinCompactionLagMs) {
		n++
	}
	firstDirty, err := readCleanerCheckpoint(l.dir)
	if err != nil {
		l.logger.Warn("storage: ignoring cleaner checkpoint", "err", err)
	}
	if firstDirty < segs[0].v.seg.base || firstDirty > segs[len(segs)-1].v.next {
		firstDirty = segs[0].v.seg.base // unknown or out of range: all dirty
	}
	var dirty, total int64
	forced := false
	for _, p := range segs[:n] {
		total += p.size
		if p.v.next > firstDirty {
			dirty += p.size
			if opts.MaxCompactionLagMs > 0 && opts.MaxCompactionLagMs < nowMs && p.maxTS < nowMs-opts.MaxCompactionLagMs {
				forced = true
			}
		}
	}
	if total > 0 {
		res.DirtyRatio = float64(dirty) / float64(total)
	}
	if dirty == 0 || (res.DirtyRatio < opts.MinCleanableDirtyRatio && !forced) {
		return res, nil
	}
	res.Cleaned = true
	res.BytesBefore, res.BytesAfter = total, total

	if opts.Working != nil {
		defer opts.Working()()
	}
	th := newThrottle(l, opts)
	defer func() { res.Elapsed, res.Paused = time.Since(th.start), th.paused }()
	sc := scratchPool.Get().(*cleanScratch)
	defer scratchPool.Put(sc)
	sc.direct = l.direct()
	// The map may grow to the worst case, every dirty offset a distinct key
	// (capped by maxOffsetMapBytes).
	var dirtyOffsets int64
	for _, p := range segs[:n] {
		if p.v.next > firstDirty {
			dirtyOffsets += p.v.next - max(p.v.seg.base, firstDirty)
		}
	}
	latest := newOffsetMap(dirtyOffsets)
	defer latest.release()
	// end: the map holds every key below it; k: the segments this pass
	// rewrites. Both shrink when the map cannot hold the whole dirty range.
	end, k := segs[n-1].v.next, n
	mapped := false
	for i, p := range segs[:n] {
		if p.v.next <= firstDirty {
			continue
		}
		// After the first dirty segment, only map a segment that surely
		// fits (as Kafka does); the rest waits for the next pass.
		if mapped && int64(latest.free()) < p.v.next-p.v.seg.base {
			end, k = p.v.seg.base, i
			break
		}
		mapped = true
		stop := int64(-1)
		var r batch.Record
		err := sc.forEachBatch(p.v.seg, p.size, th, func(b []byte, h batch.Header, _ int64) error {
			if h.Control() || h.NextOffset() <= firstDirty {
				return nil
			}
			if err := th.work(len(b)); err != nil {
				return err
			}
			data, err := sc.recordData(b, h)
			if err != nil {
				return err
			}
			it := batch.NewRecordIter(data, h.NumRecords)
			for _, ok := it.Next(&r); ok; _, ok = it.Next(&r) {
				off := h.BaseOffset + int64(r.OffsetDelta)
				if r.Key == nil || off < firstDirty {
					continue
				}
				if !latest.put(r.Key, off) {
					stop = off
					return errMapFull
				}
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("storage: compact: segment %d offset %d: %w", p.v.seg.base, h.BaseOffset, err)
			}
			return nil
		})
		if err == errMapFull {
			// Map full inside the first dirty segment: stop is above
			// firstDirty (at least one key went in), so passes progress.
			end, k = stop, i+1
			break
		}
		if err != nil {
			return res, err
		}
	}
	if k < n {
		res.BytesBefore = 0
		for _, p := range segs[:k] {
			res.BytesBefore += p.size
		}
		res.BytesAfter = res.BytesBefore
		l.logger.Info("storage: compact: offset map full, cleaning a prefix of the dirty range",
			"keys", latest.len(), "cleaned_to", end)
	}

	horizon := int64(math.MinInt64)
	if opts.DeleteRetentionMs >= 0 {
		horizon = nowMs - opts.DeleteRetentionMs
	}
	f := &filter{latest: latest, end: end, horizon: horizon}
	for _, p := range segs[:k] {
		newSize, changed, err := l.cleanSegment(p, f, th, sc)
		if err != nil {
			return res, err
		}
		if !changed {
			continue
		}
		swapped, err := l.swapCleaned(p, newSize)
		if err != nil {
			return res, err
		}
		if swapped {
			res.SegmentsCleaned++
			res.BytesAfter += newSize - p.size
		}
	}
	if err := writeFileAtomic(l.dir, CleanerCheckpointFile, fmt.Appendf(nil, "%d\n%d\n", CheckpointVersion, end)); err != nil {
		return res, err
	}
	if err := hook("checkpoint-written", end); err != nil {
		return res, err
	}
	l.logger.Info("storage: compacted", "segments", res.SegmentsCleaned, "bytes_before", res.BytesBefore,
		"bytes_after", res.BytesAfter, "dirty_ratio", res.DirtyRatio, "cleaned_to", end)
	return res, nil
}

// compactableSegments returns views (each holding a reference) of the
// segments a pass may rewrite: a prefix of sealed segments below the high
// watermark with their indexes on disk, not holding the recovery point.
func (l *Log) compactableSegments() ([]planSeg, error) {
	l.mu.RLock()
	if err := l.usableLocked(); err != nil {
		l.mu.RUnlock()
		return nil, err
	}
	var out []planSeg
	for i := 0; i < len(l.segs)-1; i++ {
		s := l.segs[i]
		if !s.sealed || s.mem != nil || s.inUnsynced || l.segs[i+1].base > l.hwm || l.holdsRecoveryPointLocked(s) {
			break
		}
		// Judged like retention.ms: largest timestamp, else creation time.
		out = append(out, planSeg{v: l.viewLocked(s), size: s.size, maxTS: s.created.UnixMilli()})
	}
	l.mu.RUnlock()
	for i := range out {
		_, ti, err := out[i].v.indexes(l.logger)
		if err != nil {
			for _, p := range out {
				p.v.seg.release()
			}
			return nil, err
		}
		if ti.n > 0 {
			if e, err := ti.at(ti.n - 1); err == nil {
				out[i].maxTS = e.ts
			}
		}
	}
	return out, nil
}

// holdsRecoveryPointLocked reports whether the on-disk recovery point names a
// position inside s (which a rewrite would invalidate).
func (l *Log) holdsRecoveryPointLocked(s *segment) bool {
	return l.ckpt.seg == s.base && l.ckpt.pos > 0
}

// readCleanerCheckpoint returns the first dirty offset, -1 if unknown.
func readCleanerCheckpoint(dir string) (int64, error) {
	lines, err := readCheckpoint(dir, CleanerCheckpointFile)
	if err != nil || lines == nil {
		return -1, err
	}
	if len(lines) != 1 {
		return -1, fmt.Errorf("storage: read %s: want 1 entry, got %d", CleanerCheckpointFile, len(lines))
	}
	v, err := parseInts(CleanerCheckpointFile, lines[0], 1)
	if err != nil {
		return -1, err
	}
	return v[0], nil
}
