package broker

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/core/storage"
)

// startRetention starts the goroutine that applies time- and size-based retention
// (retention.ms, retention.bytes) to every partition of every topic whose
// cleanup.policy includes delete, every log.retention.check.interval.ms, like Apache
// Kafka's kafka-log-retention task. It stops when the broker shuts down.
func (b *Broker) startRetention() {
	interval := time.Duration(b.cfg.LogRetentionCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = 5 * time.Minute // Kafka's default
	}
	segs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "streamd_retention_deleted_segments_total", Help: "Log segments deleted by retention.ms / retention.bytes.",
	})
	bytes := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "streamd_retention_deleted_bytes_total", Help: "Bytes of log segments deleted by retention.ms / retention.bytes.",
	})
	b.metrics.register(b.log, "retention", segs, bytes)
	b.every(interval, func() {
		n, size := b.applyRetention()
		segs.Add(float64(n))
		bytes.Add(float64(size))
	})
}

// applyRetention runs one retention pass over all topics and returns the segments and
// bytes it deleted. It returns early when the broker stops.
func (b *Broker) applyRetention() (segments int, bytes int64) {
	for _, t := range b.sortedTopics() {
		s := t.settings
		if !s.Delete || (s.RetentionMs < 0 && s.RetentionBytes < 0) {
			continue
		}
		for _, p := range t.parts {
			select {
			case <-b.stop:
				return segments, bytes
			default:
			}
			res, err := p.log.ApplyRetention(s.RetentionMs, s.RetentionBytes, time.Now())
			segments += res.SegmentsDeleted
			bytes += res.BytesDeleted
			if err != nil && !errors.Is(err, storage.ErrClosed) { // closed: topic deleted meanwhile
				b.log.Warn("retention failed", "topic", t.meta.Name, "partition", p.index, "err", err)
			}
			if res.SegmentsDeleted > 0 {
				b.log.Info("retention deleted segments", "topic", t.meta.Name, "partition", p.index,
					"segments", res.SegmentsDeleted, "bytes", res.BytesDeleted, "log_start_offset", res.NewStartOffset)
			}
		}
	}
	return segments, bytes
}
