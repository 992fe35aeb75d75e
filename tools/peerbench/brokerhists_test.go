//go:build linux

package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// An excerpt of streamd's /metrics as client_golang prints it.
const flushMetricsBefore = `# HELP streamd_log_flush_duration_seconds Time one flush took.
# TYPE streamd_log_flush_duration_seconds histogram
streamd_log_flush_duration_seconds_bucket{le="0.0001"} 0
streamd_log_flush_duration_seconds_bucket{le="0.001"} 90
streamd_log_flush_duration_seconds_bucket{le="0.005"} 98
streamd_log_flush_duration_seconds_bucket{le="0.01"} 100
streamd_log_flush_duration_seconds_bucket{le="0.05"} 100
streamd_log_flush_duration_seconds_bucket{le="+Inf"} 100
streamd_log_flush_duration_seconds_sum 0.25
streamd_log_flush_duration_seconds_count 100
streamd_requests_total{api="Produce"} 7
`

// Later: 1000 more flushes, 992 of them under 5 ms, 4 over 10 ms, the
// slowest under 50 ms.
const flushMetricsAfter = `# TYPE streamd_log_flush_duration_seconds histogram
streamd_log_flush_duration_seconds_bucket{le="0.0001"} 0
streamd_log_flush_duration_seconds_bucket{le="0.001"} 1000
streamd_log_flush_duration_seconds_bucket{le="0.005"} 1090
streamd_log_flush_duration_seconds_bucket{le="0.01"} 1096
streamd_log_flush_duration_seconds_bucket{le="0.05"} 1100
streamd_log_flush_duration_seconds_bucket{le="+Inf"} 1100
streamd_log_flush_duration_seconds_sum 3.5
streamd_log_flush_duration_seconds_count 1100
`

const flushType = "# TYPE streamd_log_flush_duration_seconds histogram\n"

// parseHist parses a metrics text and returns series s from it.
func parseHist(text string, s histSeries) (histogram, error) {
	fams, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		return histogram{}, err
	}
	return histOf(fams, s)
}

func TestFlushesBetween(t *testing.T) {
	before, err := parseHist(flushMetricsBefore, flushSeries)
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseHist(flushMetricsAfter, flushSeries)
	if err != nil {
		t.Fatal(err)
	}
	s, err := slowBetween(before, after)
	if err != nil {
		t.Fatal(err)
	}
	want := slowEvents{Watched: true, Count: 1000, Over: 4, P99Under: 5 * time.Millisecond, SlowestUnder: 50 * time.Millisecond}
	if s != want {
		t.Errorf("slowBetween = %+v; want %+v", s, want)
	}
	if got := s.String(); got != "4 of 1000 (99% ≤ 5 ms, slowest ≤ 50 ms)" {
		t.Errorf("String = %q", got)
	}
	// Nothing slow: the slowest bound is the first that holds them all.
	s, _ = slowBetween(before, before)
	if s.String() != "0 of 0" {
		t.Errorf("no flushes: %q", s.String())
	}
	fast, err := parseHist(strings.Join([]string{
		"# TYPE streamd_log_flush_duration_seconds histogram",
		`streamd_log_flush_duration_seconds_bucket{le="0.0001"} 0`,
		`streamd_log_flush_duration_seconds_bucket{le="0.001"} 100`,
		`streamd_log_flush_duration_seconds_bucket{le="0.01"} 100`,
		`streamd_log_flush_duration_seconds_count 100`,
	}, "\n")+"\n", flushSeries)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := slowBetween(histogram{buckets: map[float64]float64{}}, fast); s.Over != 0 || s.P99Under != time.Millisecond || s.SlowestUnder != time.Millisecond {
		t.Errorf("100 flushes all under 1 ms: %+v", s)
	}
	past := slowEvents{Watched: true, Count: 10, Over: 10}
	if got := past.String(); got != "10 of 10 (99% past every bucket, slowest past every bucket)" {
		t.Errorf("events past every bound: %q", got)
	}
	if (slowEvents{}).String() != "—" {
		t.Error("an unwatched system is not a dash")
	}
}

func TestParseFlushHistErrors(t *testing.T) {
	for _, text := range []string{
		"streamd_requests_total 3\n", // no histogram
		"# TYPE streamd_log_flush_duration_seconds counter\nstreamd_log_flush_duration_seconds 3\n",
		flushType + "streamd_log_flush_duration_seconds_count x\n",
		flushType + "streamd_log_flush_duration_seconds_bucket{le=\"a\"} 1\nstreamd_log_flush_duration_seconds_count 1\n",
	} {
		if _, err := parseHist(text, flushSeries); err == nil {
			t.Errorf("parseHist(%q) = nil error", text)
		}
	}
	h, err := parseHist(flushType+"streamd_log_flush_duration_seconds_count 1\n", flushSeries)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slowBetween(h, h); err == nil {
		t.Error("a histogram without a 10 ms bucket gave no error")
	}
}

// The scheduler's histogram has the Go runtime's bounds: the threshold is the
// first one from 10 ms up.
func TestSchedWaitsBetween(t *testing.T) {
	text := func(n1, n2, n3, count int) string {
		return strings.Join([]string{
			"# TYPE go_sched_latencies_seconds histogram",
			fmt.Sprintf(`go_sched_latencies_seconds_bucket{le="0.0009175039999999999"} %d`, n1),
			fmt.Sprintf(`go_sched_latencies_seconds_bucket{le="0.010485759999999998"} %d`, n2),
			fmt.Sprintf(`go_sched_latencies_seconds_bucket{le="0.11744051199999998"} %d`, n3),
			fmt.Sprintf(`go_sched_latencies_seconds_bucket{le="+Inf"} %d`, count),
			fmt.Sprintf(`go_sched_latencies_seconds_count %d`, count),
		}, "\n") + "\n"
	}
	before, err := parseHist(text(100, 110, 110, 110), schedSeries)
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseHist(text(1000, 1097, 1110, 1110), schedSeries)
	if err != nil {
		t.Fatal(err)
	}
	s, err := slowBetween(before, after)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Watched || s.Count != 1000 || s.Over != 13 || (s.SlowestUnder-117440512*time.Nanosecond).Abs() > time.Microsecond {
		t.Errorf("slowBetween = %+v; want 1000 waits, 13 over 10.5 ms, the slowest under 117.44 ms", s)
	}
	if got := s.String(); got != "13 of 1000 (99% ≤ 117 ms, slowest ≤ 117 ms)" {
		t.Errorf("String = %q", got)
	}
	small, _ := parseHist("# TYPE go_sched_latencies_seconds histogram\n"+`go_sched_latencies_seconds_bucket{le="0.001"} 1`+"\ngo_sched_latencies_seconds_count 1\n", schedSeries)
	if _, err := slowBetween(small, small); err == nil {
		t.Error("a histogram with no bound from 10 ms up gave no error")
	}
}

// A labelled series: the Produce latencies among other APIs'.
func TestParseHistLabelled(t *testing.T) {
	text := strings.Join([]string{
		"# TYPE streamd_request_duration_seconds histogram",
		`streamd_request_duration_seconds_bucket{api="Fetch",le="0.01"} 7`,
		`streamd_request_duration_seconds_count{api="Fetch"} 9`,
		`streamd_request_duration_seconds_bucket{api="Produce",le="0.005"} 90`,
		`streamd_request_duration_seconds_bucket{api="Produce",le="0.01"} 98`,
		`streamd_request_duration_seconds_bucket{api="Produce",le="0.025"} 100`,
		`streamd_request_duration_seconds_bucket{api="Produce",le="+Inf"} 100`,
		`streamd_request_duration_seconds_count{api="Produce"} 100`,
	}, "\n") + "\n"
	h, err := parseHist(text, produceSeries)
	if err != nil {
		t.Fatal(err)
	}
	s, err := slowBetween(histogram{buckets: map[float64]float64{}}, h)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count != 100 || s.Over != 2 || s.P99Under != 25*time.Millisecond || s.SlowestUnder != 25*time.Millisecond {
		t.Errorf("Produce requests: %+v; want 100, 2 over 10 ms, 99%% and the slowest under 25 ms", s)
	}
	if _, err := parseHist(text, histSeries{family: "streamd_request_duration_seconds", label: "api", value: "Metadata"}); err == nil {
		t.Error("a series that is not there gave no error")
	}
}

// The load generator's own scheduler latencies come from runtime/metrics,
// as cumulative buckets without the infinite one.
func TestClientSchedHist(t *testing.T) {
	h, err := clientSchedHist()
	if err != nil {
		t.Fatal(err)
	}
	prev := -1.0
	for _, b := range sortedBounds(h) {
		if math.IsInf(b, 0) || h.buckets[b] < prev || h.buckets[b] > h.count {
			t.Fatalf("bucket %g: %v after %v, count %v", b, h.buckets[b], prev, h.count)
		}
		prev = h.buckets[b]
	}
	if _, err := slowBetween(h, h); err != nil {
		t.Errorf("no threshold from 10 ms up in the runtime's buckets: %v", err)
	}
}
