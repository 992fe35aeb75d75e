package storage

// DeleteRecords advances the log start offset to before (-1 means the high
// watermark) and deletes the segments wholly below it. The new start is
// persisted before any file is deleted. before above the high watermark (or
// negative other than -1) gives ErrOffsetOutOfRange; before at or below the
// current start changes nothing. It returns the log start offset.
func (l *Log) DeleteRecords(before int64) (int64, error) {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	start, _, _, err := l.deleteBeforeAdmin(before)
	return start, err
}

// deleteBeforeAdmin is DeleteRecords for a caller holding adminMu. It also
// returns the number and bytes of the segments it deleted.
func (l *Log) deleteBeforeAdmin(before int64) (start int64, segsDeleted int, bytesDeleted int64, err error) {
	l.mu.RLock()
	err = l.usableLocked()
	hwm, start := l.hwm, l.start
	l.mu.RUnlock()
	if err != nil {
		return start, 0, 0, err
	}
	if before == -1 {
		before = hwm
	}
	if before < 0 || before > hwm {
		return start, 0, 0, ErrOffsetOutOfRange
	}
	if before <= start {
		return start, 0, 0, nil
	}
	if err := writeFileAtomic(l.dir, LogStartOffsetFile, formatStartOffset(before)); err != nil {
		return start, 0, 0, err
	}

	l.mu.Lock()
	l.start = before
	if l.epochs.truncateFromStart(before) {
		if err := l.writeEpochsLocked(); err != nil {
			l.logger.Warn("storage: writing leader epochs", "err", err)
		}
	}
	rolled := false
	if active := l.segs[len(l.segs)-1]; before == l.leo && active.size > 0 {
		// Everything goes: start an empty segment so the old one can too.
		if _, err := l.rollLocked(); err != nil {
			l.logger.Warn("storage: roll for DeleteRecords", "err", err)
		} else {
			rolled = true
		}
	}
	k := 0
	for k < len(l.segs)-1 && l.segs[k+1].base <= before {
		k++
	}
	dead := append([]*segment(nil), l.segs[:k]...)
	l.segs = append([]*segment(nil), l.segs[k:]...)
	for _, s := range dead {
		l.size -= s.size
		bytesDeleted += s.size
	}
	flushed := l.flushed
	l.mu.Unlock()

	if len(dead) > 0 {
		// The recovery point must name a segment that still exists.
		if err := l.writeRecoveryPoint(flushed); err != nil {
			l.logger.Warn("storage: writing recovery point", "err", err)
		}
	}
	for _, s := range dead {
		if err := s.remove(l.reaper()); err != nil {
			l.logger.Warn("storage: deleting segment", "err", err)
		}
		s.release() // in-flight readers and flushes hold their own references
	}
	if rolled {
		l.scheduleFlush()
	}
	return before, len(dead), bytesDeleted, nil
}
