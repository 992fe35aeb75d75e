package storage

// epochEntry: leader epoch `epoch` wrote its first record at offset start.
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is the in-memory leader-epoch-checkpoint: entries with strictly
// increasing epochs and non-decreasing start offsets. Guarded by Log.mu.
type epochCache struct {
	entries []epochEntry
}

func (c *epochCache) latest() int32 {
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].epoch
}

// assign records that epoch starts at offset start; it reports whether the
// cache changed. Epochs older than the latest are ignored (as Kafka does).
func (c *epochCache) assign(epoch int32, start int64) bool {
	if epoch < 0 || epoch <= c.latest() {
		return false
	}
	c.entries = append(c.entries, epochEntry{epoch, start})
	return true
}

// truncateFromEnd drops epochs that start at or after end (no record of
// theirs survived).
func (c *epochCache) truncateFromEnd(end int64) bool {
	n := len(c.entries)
	for n > 0 && c.entries[n-1].start >= end {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n]
	return changed
}

// truncateFromStart drops epochs that ended before start and moves the start
// of the epoch holding start up to it.
func (c *epochCache) truncateFromStart(start int64) bool {
	i := 0 // index of the last entry with entry.start <= start
	for i+1 < len(c.entries) && c.entries[i+1].start <= start {
		i++
	}
	if len(c.entries) == 0 || c.entries[0].start > start {
		return false
	}
	changed := i > 0 || c.entries[i].start != start
	c.entries = append(c.entries[:0], c.entries[i:]...)
	c.entries[0].start = start
	return changed
}

// endOffsetFor answers OffsetForLeaderEpoch as Apache Kafka does: the largest
// epoch <= requested and the offset where the next epoch starts (the log end
// offset for the latest epoch), or (-1, -1) when the epoch is unknown or
// newer than the latest.
func (c *epochCache) endOffsetFor(requested int32, logEnd int64) (int32, int64) {
	if requested < 0 || len(c.entries) == 0 {
		return -1, -1
	}
	if requested == c.latest() {
		return requested, logEnd
	}
	hi := -1 // first entry with epoch > requested
	for i, e := range c.entries {
		if e.epoch > requested {
			hi = i
			break
		}
	}
	if hi < 0 {
		return -1, -1
	}
	if hi == 0 {
		return requested, c.entries[0].start
	}
	return c.entries[hi-1].epoch, c.entries[hi].start
}

func (c *epochCache) snapshot() []epochEntry {
	return append([]epochEntry(nil), c.entries...)
}
