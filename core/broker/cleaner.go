package broker

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/core/storage"
)

// maxCleanerInterval bounds how long a compacted log waits for the cleaner.
const maxCleanerInterval = 15 * time.Second

// cleanerMetrics are the log cleaner's metrics.
type cleanerMetrics struct {
	dirty     *prometheus.GaugeVec   // topic, partition
	lastClean *prometheus.GaugeVec   // topic, partition: unix seconds
	reclaimed *prometheus.CounterVec // topic, partition

	mu     sync.Mutex
	stats  map[*partition]cleanStats        // per live partition, for the admin API
	labels map[*partition]prometheus.Labels // every compacted partition with metrics
}

// cleanStats is what the cleaner did to one partition since the broker started.
type cleanStats struct {
	LastCleaned    time.Time // zero: never cleaned
	BytesReclaimed int64     // total over all passes
}

// cleanerStats returns what the cleaner did to p since the broker started (zero when
// the cleaner is disabled or has not cleaned p).
func (b *Broker) cleanerStats(p *partition) cleanStats {
	m := b.cleaner
	if m == nil {
		return cleanStats{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats[p]
}

// startCleaner starts the log cleaner (log.cleaner.enable) like Apache Kafka's: every
// min(15 s, log.retention.check.interval.ms) it runs one storage.Log.Compact pass on
// every partition of every topic whose cleanup.policy includes compact, with the
// topic's delete.retention.ms, min/max.compaction.lag.ms and min.cleanable.dirty.ratio
// and the broker's log.cleaner.io.max.bytes.per.second (per pass). Retention runs
// independently for compact,delete topics. It stops when the broker shuts down,
// abandoning a pass in progress.
func (b *Broker) startCleaner() {
	if !b.cfg.LogCleanerEnable {
		return
	}
	interval := time.Duration(b.cfg.LogRetentionCheckIntervalMs) * time.Millisecond
	if interval <= 0 || interval > maxCleanerInterval {
		interval = maxCleanerInterval
	}
	m := &cleanerMetrics{
		dirty: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streamd_cleaner_dirty_ratio", Help: "Dirty bytes / cleanable bytes of a compacted partition at the last cleaner check.",
		}, []string{"topic", "partition"}),
		lastClean: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streamd_cleaner_last_clean_timestamp_seconds", Help: "When the cleaner last compacted a partition (unix seconds).",
		}, []string{"topic", "partition"}),
		reclaimed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_cleaner_reclaimed_bytes_total", Help: "Bytes removed from a compacted partition by the cleaner since the broker started.",
		}, []string{"topic", "partition"}),
		stats:  make(map[*partition]cleanStats),
		labels: make(map[*partition]prometheus.Labels),
	}
	offsetMap := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "streamd_cleaner_offset_map_bytes",
		Help: "Memory of the cleaner's offset maps in use now, outside the Go heap (at most 128 MiB, Kafka's log.cleaner.dedupe.buffer.size default, per pass in progress).",
	}, func() float64 { return float64(storage.OffsetMapBytes()) })
	b.metrics.register(b.log, "cleaner", m.dirty, m.lastClean, m.reclaimed, offsetMap)
	b.cleaner = m
	b.everyLowPriority(interval, func() { b.cleanLogs(m) })
}

// cleanLogs runs one cleaner pass over all compacted topics. It returns early when
// the broker stops.
func (b *Broker) cleanLogs(m *cleanerMetrics) {
	seen := make(map[*partition]bool)
	defer func() { // forget deleted or no longer compacted partitions (only after a complete pass)
		if seen == nil {
			return
		}
		m.mu.Lock()
		for p, lbl := range m.labels {
			if !seen[p] {
				m.forgetLocked(p, lbl)
			}
		}
		m.mu.Unlock()
	}()
	for _, t := range b.sortedTopics() {
		s := t.settings
		if !s.Compact {
			continue
		}
		for _, p := range t.parts {
			seen[p] = true
			select {
			case <-b.stop:
				seen = nil
				return
			default:
			}
			labels := prometheus.Labels{"topic": t.meta.Name, "partition": strconv.Itoa(int(p.index))}
			m.mu.Lock()
			m.labels[p] = labels
			m.mu.Unlock()
			res, err := p.log.Compact(storage.CompactOptions{
				Now:                    time.Now(),
				DeleteRetentionMs:      s.DeleteRetentionMs,
				MinCompactionLagMs:     s.MinCompactionLagMs,
				MinCleanableDirtyRatio: s.MinCleanableDirtyRatio,
				MaxCompactionLagMs:     s.MaxCompactionLagMs,
				IOBytesPerSecond:       b.cfg.LogCleanerIoMaxBytesPerSecond,
				DutyCycle:              b.cfg.LogCleanerCPUMaxFraction,
				Working:                passWorking(b.cfg.LogCleanerCPUMaxFraction),
				Stop:                   b.stop,
			})
			switch {
			case errors.Is(err, storage.ErrClosed): // topic deleted meanwhile
				m.mu.Lock()
				m.forgetLocked(p, labels)
				m.mu.Unlock()
				continue
			case errors.Is(err, storage.ErrCompactStopped):
				seen = nil
				return
			case err != nil:
				b.log.Warn("cleaner: compaction failed", "topic", t.meta.Name, "partition", p.index, "err", err)
			}
			m.dirty.With(labels).Set(res.DirtyRatio)
			if res.Cleaned {
				now := time.Now()
				reclaimed := max(res.BytesBefore-res.BytesAfter, 0)
				m.lastClean.With(labels).Set(float64(now.UnixMilli()) / 1000)
				m.reclaimed.With(labels).Add(float64(reclaimed))
				m.mu.Lock()
				st := m.stats[p]
				st.LastCleaned = now
				st.BytesReclaimed += reclaimed
				m.stats[p] = st
				m.mu.Unlock()
				b.log.Debug("cleaner: compacted", "topic", t.meta.Name, "partition", p.index,
					"segments", res.SegmentsCleaned, "bytes_before", res.BytesBefore, "bytes_after", res.BytesAfter)
			}
		}
	}
}

// forgetLocked drops p's stats and metrics (m.mu held).
func (m *cleanerMetrics) forgetLocked(p *partition, lbl prometheus.Labels) {
	delete(m.stats, p)
	delete(m.labels, p)
	m.dirty.Delete(lbl)
	m.lastClean.Delete(lbl)
	m.reclaimed.Delete(lbl)
}
