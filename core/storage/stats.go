package storage

// DirtyRatio estimates the log cleaner's dirty ratio without running a pass:
// bytes of sealed segments below the high watermark at or after the cleaner
// checkpoint (CleanerCheckpointFile), divided by bytes of all sealed segments
// below the high watermark. A missing or out-of-range checkpoint counts every
// such segment as dirty, as Compact does. Unlike Compact it ignores
// min.compaction.lag.ms and the recovery point, so it can be slightly higher
// than the ratio the next pass computes. A log with no sealed segment below
// the high watermark has ratio 0. It only reads; it returns ErrClosed for a
// closed log.
func (l *Log) DirtyRatio() (float64, error) {
	segs := l.Segments()
	if segs == nil {
		return 0, ErrClosed
	}
	hwm := l.HighWatermark()
	n := 0
	for n < len(segs)-1 && segs[n].NextOffset <= hwm {
		n++
	}
	if n == 0 {
		return 0, nil
	}
	firstDirty, err := readCleanerCheckpoint(l.dir)
	if err != nil || firstDirty < segs[0].BaseOffset || firstDirty > segs[n-1].NextOffset {
		firstDirty = segs[0].BaseOffset
	}
	var dirty, total int64
	for _, s := range segs[:n] {
		total += s.Size
		if s.NextOffset > firstDirty {
			dirty += s.Size
		}
	}
	if total == 0 {
		return 0, nil
	}
	return float64(dirty) / float64(total), nil
}
