package broker

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/storage"
)

// metrics are the broker's Prometheus metrics, on a registry of its own (so several
// brokers can live in one test process). Served at /metrics on the admin listener.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	reqBytes      prometheus.Counter
	respBytes     prometheus.Counter
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	produceErrors prometheus.Counter
}

// latencyBuckets are the request latency histogram's bounds in seconds: 1,
// 2.5, 5 per decade from 50 µs to 10 s, so 10 ms (the latency a produce with
// fsync is expected to stay under) is a bound.
var latencyBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newMetrics(b *Broker) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_requests_total", Help: "Kafka requests answered, by API.",
		}, []string{"api"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streamd_request_duration_seconds",
			Help:    "Time from reading a request to writing its response, by API (includes fsync waits and fetch long polls).",
			Buckets: latencyBuckets,
		}, []string{"api"}),
		reqBytes:      prometheus.NewCounter(prometheus.CounterOpts{Name: "streamd_request_bytes_total", Help: "Bytes of Kafka requests read."}),
		respBytes:     prometheus.NewCounter(prometheus.CounterOpts{Name: "streamd_response_bytes_total", Help: "Bytes of Kafka responses written."}),
		bytesIn:       prometheus.NewCounter(prometheus.CounterOpts{Name: "streamd_produce_bytes_total", Help: "Record batch bytes appended by produce requests."}),
		bytesOut:      prometheus.NewCounter(prometheus.CounterOpts{Name: "streamd_fetch_bytes_total", Help: "Record batch bytes returned by fetch requests."}),
		produceErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamd_produce_errors_total", Help: "Partition produces rejected (validation, storage)."}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.reqBytes, m.respBytes, m.bytesIn, m.bytesOut, m.produceErrors,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&logCollector{b: b}, directCollector{}, flushCollector{})
	return m
}

// directCollector reports the direct-I/O read path of the storage layer
// (storage.ReadIOStats) at scrape time.
type directCollector struct{}

var (
	descDirectReads     = prometheus.NewDesc("streamd_fetch_direct_reads_total", "Fetch ranges of direct logs read from disk with O_DIRECT.", nil, nil)
	descDirectReadBytes = prometheus.NewDesc("streamd_fetch_direct_read_bytes_total", "Bytes of fetch ranges read from disk with O_DIRECT.", nil, nil)
	descCacheReads      = prometheus.NewDesc("streamd_fetch_readahead_hits_total", "Fetch ranges of direct logs answered from the read-ahead cache.", nil, nil)
	descCacheReadBytes  = prometheus.NewDesc("streamd_fetch_readahead_hit_bytes_total", "Bytes of fetch ranges answered from the read-ahead cache.", nil, nil)
	descReadAheadChunks = prometheus.NewDesc("streamd_readahead_chunks_read_total", "1 MiB chunks read ahead of sequential consumers.", nil, nil)
	descChunksInUse     = prometheus.NewDesc("streamd_readahead_chunks", "Read-ahead chunks in memory now.", nil, nil)
	descTailReads       = prometheus.NewDesc("streamd_fetch_tail_hits_total", "Fetch ranges at the log end answered from the direct tail's memory.", nil, nil)
	descTailReadBytes   = prometheus.NewDesc("streamd_fetch_tail_hit_bytes_total", "Bytes of fetch ranges answered from the direct tail's memory.", nil, nil)
	descTailKept        = prometheus.NewDesc("streamd_tail_kept_chunks", "64 KiB chunks of recently synced data kept in memory for consumers at the log end.", nil, nil)
	descDiskReadBytes   = prometheus.NewDesc("streamd_fetch_disk_read_bytes_total", "Bytes fetches and the read-ahead read from disk with O_DIRECT (whole 4 KiB blocks).", nil, nil)
	descIOMem           = prometheus.NewDesc("streamd_direct_io_memory_bytes", "Memory of the direct I/O buffers in use at least once (in huge pages where available; resident since): use=read for 1 MiB read buffers, use=tail for 64 KiB tail chunks.", []string{"use"}, nil)
	descIOHeap          = prometheus.NewDesc("streamd_direct_io_heap_buffers_total", "Direct I/O buffers taken from the Go heap because every buffer of that use was taken.", []string{"use"}, nil)
)

func (directCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDirectReads, descDirectReadBytes, descCacheReads, descCacheReadBytes, descReadAheadChunks, descChunksInUse, descDiskReadBytes, descTailReads, descTailReadBytes, descTailKept, descIOMem, descIOHeap} {
		ch <- d
	}
}

func (directCollector) Collect(ch chan<- prometheus.Metric) {
	s := storage.ReadIOStats()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descDirectReads, s.DirectReads)
	counter(descDirectReadBytes, s.DirectReadBytes)
	counter(descCacheReads, s.CacheReads)
	counter(descCacheReadBytes, s.CacheReadBytes)
	counter(descReadAheadChunks, s.ReadAheadChunks)
	counter(descDiskReadBytes, s.DiskReadBytes)
	counter(descTailReads, s.TailReads)
	counter(descTailReadBytes, s.TailReadBytes)
	ch <- prometheus.MustNewConstMetric(descChunksInUse, prometheus.GaugeValue, float64(s.ChunksInUse))
	ch <- prometheus.MustNewConstMetric(descTailKept, prometheus.GaugeValue, float64(s.TailKeptChunks))
	ch <- prometheus.MustNewConstMetric(descIOMem, prometheus.GaugeValue, float64(s.ReadBufBytes), "read")
	ch <- prometheus.MustNewConstMetric(descIOMem, prometheus.GaugeValue, float64(s.TailBufBytes), "tail")
	ch <- prometheus.MustNewConstMetric(descIOHeap, prometheus.CounterValue, float64(s.ReadBufHeap), "read")
	ch <- prometheus.MustNewConstMetric(descIOHeap, prometheus.CounterValue, float64(s.TailBufHeap), "tail")
}

// flushCollector reports the storage layer's log flush time histogram
// (storage.ReadFlushStats) at scrape time.
type flushCollector struct{}

var descFlush = prometheus.NewDesc("streamd_log_flush_duration_seconds",
	"Time one flush of one partition's log took to make its appended data durable (index entries and direct tail written, fdatasync); the count is the number of flushes (Kafka's LogFlushRateAndTimeMs).", nil, nil)

func (flushCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descFlush }

func (flushCollector) Collect(ch chan<- prometheus.Metric) {
	s := storage.ReadFlushStats()
	buckets := make(map[float64]uint64, len(s.Buckets))
	for i, n := range s.Buckets {
		buckets[storage.FlushBounds[i]] = n
	}
	ch <- prometheus.MustNewConstHistogram(descFlush, s.Count, s.Sum.Seconds(), buckets)
}

// Observe implements wire.Observer.
func (m *metrics) Observe(key int16, d time.Duration, reqBytes, respBytes int) {
	name := kmsg.NameForKey(key)
	m.requests.WithLabelValues(name).Inc()
	m.latency.WithLabelValues(name).Observe(d.Seconds())
	m.reqBytes.Add(float64(reqBytes))
	m.respBytes.Add(float64(respBytes))
}

// logCollector reports per-partition log gauges at scrape time.
type logCollector struct{ b *Broker }

var (
	descSize  = prometheus.NewDesc("streamd_log_size_bytes", "Bytes on disk of a partition's segments.", []string{"topic", "partition"}, nil)
	descStart = prometheus.NewDesc("streamd_log_start_offset", "Log start offset of a partition.", []string{"topic", "partition"}, nil)
	descEnd   = prometheus.NewDesc("streamd_log_end_offset", "Log end offset (next offset to be written) of a partition.", []string{"topic", "partition"}, nil)
	descHWM   = prometheus.NewDesc("streamd_high_watermark", "High watermark (durable, readable end) of a partition.", []string{"topic", "partition"}, nil)
	descSegs  = prometheus.NewDesc("streamd_log_segments", "Number of segments of a partition.", []string{"topic", "partition"}, nil)
)

func (c *logCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSize
	ch <- descStart
	ch <- descEnd
	ch <- descHWM
	ch <- descSegs
}

func (c *logCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.b.sortedTopics() {
		for i, p := range t.parts {
			lbl := []string{t.meta.Name, strconv.Itoa(i)}
			ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(p.log.Size()), lbl...)
			ch <- prometheus.MustNewConstMetric(descStart, prometheus.GaugeValue, float64(p.log.StartOffset()), lbl...)
			ch <- prometheus.MustNewConstMetric(descEnd, prometheus.GaugeValue, float64(p.log.EndOffset()), lbl...)
			ch <- prometheus.MustNewConstMetric(descHWM, prometheus.GaugeValue, float64(p.log.HighWatermark()), lbl...)
			ch <- prometheus.MustNewConstMetric(descSegs, prometheus.GaugeValue, float64(len(p.log.Segments())), lbl...)
		}
	}
}
