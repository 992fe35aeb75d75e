package broker

import (
	"net/http"
	"time"
)

// Admin HTTP API for what the Kafka protocol cannot describe.
//
// GET /v1/topics/{name} answers 200 with
//
//	{"topic": "orders", "compacted": true, "partitions": [{
//	  "partition": 0, "log_start_offset": 0, "log_end_offset": 120, "high_watermark": 120,
//	  "size_bytes": 4096, "segments": 3, "dirty_ratio": 0.5,
//	  "last_cleaned": "2026-11-21T14:00:00Z", "bytes_reclaimed": 2048}]}
//
// dirty_ratio is null for a topic whose cleanup.policy does not include compact (else
// storage.Log.DirtyRatio); last_cleaned is null until the cleaner has rewritten the
// partition since the broker started; bytes_reclaimed counts since the broker started.
// An unknown topic answers 404 and a broker shutting down 503, both with
// {"error": "..."}.

// adminTopic is the body of GET /v1/topics/{name}.
type adminTopic struct {
	Topic      string           `json:"topic"`
	Compacted  bool             `json:"compacted"`
	Partitions []adminPartition `json:"partitions"`
}

// adminPartition is one partition of adminTopic.
type adminPartition struct {
	Partition      int32      `json:"partition"`
	LogStartOffset int64      `json:"log_start_offset"`
	LogEndOffset   int64      `json:"log_end_offset"`
	HighWatermark  int64      `json:"high_watermark"`
	SizeBytes      int64      `json:"size_bytes"`
	Segments       int        `json:"segments"`
	DirtyRatio     *float64   `json:"dirty_ratio"`
	LastCleaned    *time.Time `json:"last_cleaned"`
	BytesReclaimed int64      `json:"bytes_reclaimed"`
}

// handleAdminTopic serves GET /v1/topics/{name}.
func (b *Broker) handleAdminTopic(w http.ResponseWriter, r *http.Request) {
	if !b.adminOpen(w) {
		return
	}
	name := r.PathValue("name")
	t := b.topicOr404(w, name)
	if t == nil {
		return
	}
	out := adminTopic{Topic: name, Compacted: t.settings.Compact, Partitions: make([]adminPartition, 0, len(t.parts))}
	for _, p := range t.parts {
		ap := adminPartition{
			Partition:      p.index,
			LogStartOffset: p.log.StartOffset(),
			LogEndOffset:   p.log.EndOffset(),
			HighWatermark:  p.log.HighWatermark(),
			SizeBytes:      p.log.Size(),
			Segments:       len(p.log.Segments()),
		}
		if t.settings.Compact {
			if d, err := p.log.DirtyRatio(); err == nil {
				ap.DirtyRatio = &d
			}
		}
		st := b.cleanerStats(p)
		if !st.LastCleaned.IsZero() {
			lc := st.LastCleaned.UTC().Truncate(time.Second)
			ap.LastCleaned = &lc
		}
		ap.BytesReclaimed = st.BytesReclaimed
		out.Partitions = append(out.Partitions, ap)
	}
	adminJSON(w, http.StatusOK, out)
}
