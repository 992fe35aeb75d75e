//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime/metrics"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// What held streamd's latency run up. A broker that syncs before
// acknowledging passes every slow fdatasync on to the records it acknowledges
// meanwhile: on this kind of VM an fdatasync sometimes takes 30-50 ms with
// nothing else going on, and one such incident holds up about 1% of an 8 s
// latency run's records. Goroutines that wait for a CPU hold records up the
// same way. streamd exports both as histograms on its admin listener
// (streamd_log_flush_duration_seconds, and the Go runtime's sampled
// go_sched_latencies_seconds); peerbench reads them before and after
// streamd's latency run (its warm-up included) and reports the events over
// 10 ms, so a p99 can be read next to what the disk and the CPUs did.

// The histograms read; each is reported at its first bucket bound from
// slowAt up (see slowBetween).
var (
	flushSeries = histSeries{family: "streamd_log_flush_duration_seconds"}
	schedSeries = histSeries{family: "go_sched_latencies_seconds"} // sampled by the Go runtime
	// Produce requests from reading to answering, fsync wait included.
	produceSeries = histSeries{family: "streamd_request_duration_seconds", label: "api", value: "Produce"}
)

const slowAt = 0.010 // seconds

// histSeries names one histogram in a scrape: a metric family and, when the
// family is labelled, the value of one label.
type histSeries struct{ family, label, value string }

func (s histSeries) String() string {
	if s.label == "" {
		return s.family
	}
	return fmt.Sprintf("%s{%s=%q}", s.family, s.label, s.value)
}

// histogram is a cumulative histogram as scraped.
type histogram struct {
	count   float64
	buckets map[float64]float64 // upper bound in seconds -> events at most that long
}

// parseMetrics reads a Prometheus text exposition, as streamd's admin
// listener serves it.
func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return fams, nil
}

// histOf returns series s from parsed metric families.
func histOf(fams map[string]*dto.MetricFamily, s histSeries) (histogram, error) {
	f := fams[s.family]
	if f == nil {
		return histogram{}, fmt.Errorf("no %s in the metrics", s)
	}
	if f.GetType() != dto.MetricType_HISTOGRAM {
		return histogram{}, fmt.Errorf("%s is a %s, not a histogram", s.family, f.GetType())
	}
	for _, m := range f.GetMetric() {
		if s.label != "" && !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == s.label && l.GetValue() == s.value
		}) {
			continue
		}
		h := histogram{count: float64(m.GetHistogram().GetSampleCount()), buckets: map[float64]float64{}}
		for _, b := range m.GetHistogram().GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) {
				h.buckets[b.GetUpperBound()] = float64(b.GetCumulativeCount())
			}
		}
		return h, nil
	}
	return histogram{}, fmt.Errorf("no %s in the metrics", s)
}

// slowEvents is what one run's events (flushes, requests, scheduler waits) were:
// how many, how many took longer than the threshold, the bucket bound 99% of
// them are under and the one the slowest is under (0: past every bound).
type slowEvents struct {
	Watched      bool
	Count, Over  int64
	P99Under     time.Duration
	SlowestUnder time.Duration
}

// slowBetween is the difference of two scrapes of a histogram: the events
// between them, those over its first bucket bound from slowAt up (exactly
// slowAt for streamd's flushes and requests; the Go runtime's bounds are its
// own), and the bounds 99% of them and the slowest one are under.
func slowBetween(before, after histogram) (slowEvents, error) {
	bounds := sortedBounds(after)
	i, _ := slices.BinarySearch(bounds, slowAt)
	if i == len(bounds) {
		return slowEvents{}, fmt.Errorf("a histogram has no bucket from %g s up", slowAt)
	}
	s := slowEvents{Watched: true, Count: int64(after.count - before.count)}
	s.Over = s.Count - int64(after.buckets[bounds[i]]-before.buckets[bounds[i]])
	if s.Count == 0 {
		return s, nil
	}
	for _, b := range bounds {
		n := after.buckets[b] - before.buckets[b]
		if s.P99Under == 0 && n >= 0.99*float64(s.Count) {
			s.P99Under = time.Duration(b * float64(time.Second))
		}
		if n == float64(s.Count) {
			s.SlowestUnder = time.Duration(b * float64(time.Second))
			break
		}
	}
	return s, nil
}

func sortedBounds(h histogram) []float64 {
	bounds := make([]float64, 0, len(h.buckets))
	for b := range h.buckets {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	return bounds
}

// String is the report's cell: "3 of 16500 (99% ≤ 1 ms, slowest ≤ 50 ms)"; a
// dash for a system that was not watched.
func (s slowEvents) String() string {
	switch {
	case !s.Watched:
		return "—"
	case s.Count == 0:
		return "0 of 0"
	}
	return fmt.Sprintf("%d of %d (99%% %s, slowest %s)", s.Over, s.Count, under(s.P99Under), under(s.SlowestUnder))
}

// under is a bucket bound in a cell: "≤ 5 ms", or for 0 "past every bucket".
func under(bound time.Duration) string {
	if bound == 0 {
		return "past every bucket"
	}
	return "≤ " + fmtBound(bound)
}

func fmtBound(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.2g ms", ms(d))
	}
	return fmt.Sprintf("%.3g ms", ms(d))
}

// brokerHists are the histograms peerbench reads from streamd's metrics.
type brokerHists struct {
	flush, sched, produce histogram
}

// scrapeBrokerHists reads the flush, scheduler latency and Produce request
// latency histograms from a streamd admin listener.
func scrapeBrokerHists(ctx context.Context, adminAddr string) (brokerHists, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/metrics", nil)
	if err != nil {
		return brokerHists{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return brokerHists{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return brokerHists{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return brokerHists{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	fams, err := parseMetrics(bytes.NewReader(body))
	if err != nil {
		return brokerHists{}, err
	}
	var h brokerHists
	for _, f := range []struct {
		dst    *histogram
		series histSeries
	}{{&h.flush, flushSeries}, {&h.sched, schedSeries}, {&h.produce, produceSeries}} {
		if *f.dst, err = histOf(fams, f.series); err != nil {
			return brokerHists{}, err
		}
	}
	return h, nil
}

// clientSchedHist reads this process's (the load generator's) scheduler
// latency histogram from runtime/metrics, in the scraped form.
func clientSchedHist() (histogram, error) {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return histogram{}, errors.New("runtime/metrics has no /sched/latencies:seconds")
	}
	return cumulative(s[0].Value.Float64Histogram()), nil
}

// cumulative turns a runtime/metrics histogram (counts between boundaries)
// into bucket upper bounds with the counts at or below them; the last
// (infinite) boundary is left out, as Prometheus leaves out +Inf.
func cumulative(h *metrics.Float64Histogram) histogram {
	out := histogram{buckets: map[float64]float64{}}
	var n uint64
	for i, c := range h.Counts {
		n += c
		if hi := h.Buckets[i+1]; !math.IsInf(hi, 1) {
			out.buckets[hi] = float64(n)
		}
	}
	out.count = float64(n)
	return out
}
