//go:build linux

package main

import (
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

// Later: 1000 more flushes, 4 of them over 10 ms, the slowest under 50 ms.
const flushMetricsAfter = `streamd_log_flush_duration_seconds_bucket{le="0.0001"} 0
streamd_log_flush_duration_seconds_bucket{le="0.001"} 1000
streamd_log_flush_duration_seconds_bucket{le="0.005"} 1090
streamd_log_flush_duration_seconds_bucket{le="0.01"} 1096
streamd_log_flush_duration_seconds_bucket{le="0.05"} 1100
streamd_log_flush_duration_seconds_bucket{le="+Inf"} 1100
streamd_log_flush_duration_seconds_sum 3.5
streamd_log_flush_duration_seconds_count 1100
`

func TestFlushesBetween(t *testing.T) {
	before, err := parseFlushHist(strings.NewReader(flushMetricsBefore))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseFlushHist(strings.NewReader(flushMetricsAfter))
	if err != nil {
		t.Fatal(err)
	}
	s, err := flushesBetween(before, after)
	if err != nil {
		t.Fatal(err)
	}
	want := slowFlushes{Watched: true, Count: 1000, Over: 4, SlowestUnder: 50 * time.Millisecond}
	if s != want {
		t.Errorf("flushesBetween = %+v; want %+v", s, want)
	}
	if got := s.String(); got != "4 of 1000 (slowest ≤ 50 ms)" {
		t.Errorf("String = %q", got)
	}
	// Nothing slow: the slowest bound is the first that holds them all.
	s, _ = flushesBetween(before, before)
	if s.String() != "0 of 0" {
		t.Errorf("no flushes: %q", s.String())
	}
	fast, err := parseFlushHist(strings.NewReader(strings.Join([]string{
		`streamd_log_flush_duration_seconds_bucket{le="0.0001"} 0`,
		`streamd_log_flush_duration_seconds_bucket{le="0.001"} 100`,
		`streamd_log_flush_duration_seconds_bucket{le="0.01"} 100`,
		`streamd_log_flush_duration_seconds_count 100`,
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := flushesBetween(flushHist{buckets: map[float64]float64{}}, fast); s.Over != 0 || s.SlowestUnder != time.Millisecond {
		t.Errorf("100 flushes all under 1 ms: %+v", s)
	}
	if (slowFlushes{}).String() != "—" {
		t.Error("an unwatched system is not a dash")
	}
}

func TestParseFlushHistErrors(t *testing.T) {
	for _, text := range []string{
		"streamd_requests_total 3\n", // no histogram
		"streamd_log_flush_duration_seconds_count x\n",
		"streamd_log_flush_duration_seconds_bucket{le=\"a\"} 1\nstreamd_log_flush_duration_seconds_count 1\n",
	} {
		if _, err := parseFlushHist(strings.NewReader(text)); err == nil {
			t.Errorf("parseFlushHist(%q) = nil error", text)
		}
	}
	h, err := parseFlushHist(strings.NewReader("streamd_log_flush_duration_seconds_count 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flushesBetween(h, h); err == nil {
		t.Error("a histogram without a 10 ms bucket gave no error")
	}
}
