package storage

import "time"

// RetentionResult is what one ApplyRetention call deleted.
type RetentionResult struct {
	SegmentsDeleted int   // whole segments deleted
	BytesDeleted    int64 // their bytes
	NewStartOffset  int64 // log start offset afterwards
}

// ApplyRetention deletes old segments like Apache Kafka's cleanup.policy=delete:
//
//   - by time: a segment whose largest timestamp (its MaxTimestamp, or its
//     Created time when it holds none) is older than now-retentionMs goes;
//     retentionMs < 0 keeps segments forever;
//   - then by size: the oldest segments go while the log minus the segment
//     still holds at least retentionBytes bytes; retentionBytes < 0 means no
//     limit.
//
// Only whole segments are deleted, oldest first, and never the active
// segment nor one that reaches above the high watermark; each rule stops at
// the first segment it keeps. The log start offset advances to the base
// offset of the first remaining segment exactly as DeleteRecords does: it is
// persisted before any file is removed, a reader holding a deleted segment
// finishes with it, and later reads below the new start get
// ErrOffsetOutOfRange.
func (l *Log) ApplyRetention(retentionMs, retentionBytes int64, now time.Time) (RetentionResult, error) {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	l.mu.RLock()
	err := l.usableLocked()
	hwm, start, size := l.hwm, l.start, l.size
	l.mu.RUnlock()
	res := RetentionResult{NewStartOffset: start}
	if err != nil {
		return res, err
	}
	if retentionMs < 0 && retentionBytes < 0 {
		return res, nil
	}
	// Holding adminMu, nothing else deletes segments: the snapshot below stays
	// true except that appends may add segments (and bytes) at the end.
	segs := l.Segments()

	// deletable reports whether segs[i] may go at all: not the active segment,
	// and wholly below the high watermark so the start never passes it.
	deletable := func(i int) bool { return i < len(segs)-1 && segs[i+1].BaseOffset <= hwm }

	var byTime, bySize []SegmentInfo
	i := 0
	if retentionMs >= 0 {
		limit := now.UnixMilli() - retentionMs
		for ; deletable(i) && largestTimestamp(segs[i]) < limit; i++ {
			byTime = append(byTime, segs[i])
			size -= segs[i].Size
		}
	}
	if retentionBytes >= 0 {
		for ; deletable(i) && size-segs[i].Size >= retentionBytes; i++ {
			bySize = append(bySize, segs[i])
			size -= segs[i].Size
		}
	}
	if i == 0 {
		return res, nil
	}
	newStart, n, bytes, err := l.deleteBeforeAdmin(segs[i].BaseOffset)
	res = RetentionResult{SegmentsDeleted: n, BytesDeleted: bytes, NewStartOffset: newStart}
	if err != nil {
		return res, err
	}
	logDeleted(l, "time", byTime, retentionMs)
	logDeleted(l, "size", bySize, retentionBytes)
	return res, nil
}

// largestTimestamp is the time a segment is judged by for retention.ms.
func largestTimestamp(s SegmentInfo) int64 {
	if s.MaxTimestamp >= 0 {
		return s.MaxTimestamp
	}
	return s.Created.UnixMilli()
}

func logDeleted(l *Log, reason string, segs []SegmentInfo, limit int64) {
	if len(segs) == 0 {
		return
	}
	var bytes int64
	for _, s := range segs {
		bytes += s.Size
	}
	l.logger.Info("storage: retention deleted segments", "reason", reason, "limit", limit,
		"segments", len(segs), "bytes", bytes,
		"from_offset", segs[0].BaseOffset, "to_offset", segs[len(segs)-1].NextOffset)
}
