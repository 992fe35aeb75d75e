package storage

// SetOptions applies changed topic settings to an open log: the segment roll limits
// (SegmentBytes, SegmentMs) and IndexIntervalBytes take effect from the next append (IndexIntervalBytes from the next segment,
// SegmentJitterMs from the next segment whose jitter is drawn).
// Durability settings (Fsync, FlushInterval) are fixed when the log is opened.
func (l *Log) SetOptions(o Options) {
	o = o.withDefaults()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opts.SegmentBytes = o.SegmentBytes
	l.opts.SegmentMs = o.SegmentMs
	l.opts.SegmentJitterMs = o.SegmentJitterMs
	l.opts.IndexIntervalBytes = o.IndexIntervalBytes
}
