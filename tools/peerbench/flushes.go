//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Slow flushes. A broker that syncs before acknowledging passes every slow
// fdatasync on to the records it acknowledges meanwhile: on this kind of VM an
// fdatasync sometimes takes 30-50 ms with nothing else going on, and one such
// incident holds up about 1% of an 8 s latency run's records. streamd counts
// its log flushes in a histogram (streamd_log_flush_duration_seconds on its
// admin listener); peerbench reads it before and after streamd's latency run
// and reports the flushes over 10 ms in that run, so its p99 can be read next
// to what its disk did.

const flushMetric = "streamd_log_flush_duration_seconds"

// flushHist is the cumulative histogram as scraped.
type flushHist struct {
	count   float64
	buckets map[float64]float64 // upper bound in seconds -> flushes at most that long
}

// parseFlushHist reads flushMetric's count and buckets from a Prometheus
// text exposition.
func parseFlushHist(r io.Reader) (flushHist, error) {
	h := flushHist{buckets: map[float64]float64{}}
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(name, flushMetric+"_") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return h, fmt.Errorf("metrics line %q: %w", line, err)
		}
		switch {
		case name == flushMetric+"_count":
			h.count, found = v, true
		case strings.HasPrefix(name, flushMetric+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(name, flushMetric+`_bucket{le="`), `"}`)
			if le == "+Inf" {
				continue
			}
			b, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return h, fmt.Errorf("metrics line %q: %w", line, err)
			}
			h.buckets[b] = v
		}
	}
	if err := sc.Err(); err != nil {
		return h, err
	}
	if !found {
		return h, fmt.Errorf("no %s_count in the metrics", flushMetric)
	}
	return h, nil
}

// slowFlushes is what one run's flushes were: how many, how many took over
// 10 ms, and the bucket bound the slowest one is under (0: past every bound).
type slowFlushes struct {
	Watched      bool
	Count, Over  int64
	SlowestUnder time.Duration
}

const slowFlush = 0.010 // seconds; must be a bucket bound of flushMetric

// flushesBetween is the difference of two scrapes.
func flushesBetween(before, after flushHist) (slowFlushes, error) {
	under, ok := after.buckets[slowFlush]
	if !ok {
		return slowFlushes{}, fmt.Errorf("%s has no %g s bucket", flushMetric, slowFlush)
	}
	s := slowFlushes{Watched: true, Count: int64(after.count - before.count)}
	s.Over = s.Count - int64(under-before.buckets[slowFlush])
	if s.Count == 0 {
		return s, nil
	}
	bounds := make([]float64, 0, len(after.buckets))
	for b := range after.buckets {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	for _, b := range bounds {
		if after.buckets[b]-before.buckets[b] == float64(s.Count) {
			s.SlowestUnder = time.Duration(b * float64(time.Second))
			break
		}
	}
	return s, nil
}

// String is the report's cell: "3 of 16500 (slowest ≤ 50 ms)"; a dash for a
// system that was not watched.
func (s slowFlushes) String() string {
	switch {
	case !s.Watched:
		return "—"
	case s.Count == 0:
		return "0 of 0"
	case s.SlowestUnder == 0:
		return fmt.Sprintf("%d of %d (slowest past every bucket)", s.Over, s.Count)
	}
	return fmt.Sprintf("%d of %d (slowest ≤ %s)", s.Over, s.Count, fmtBound(s.SlowestUnder))
}

func fmtBound(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.2g ms", ms(d))
	}
	return fmt.Sprintf("%g ms", ms(d))
}

// scrapeFlushes reads the flush histogram from a streamd admin listener.
func scrapeFlushes(ctx context.Context, adminAddr string) (flushHist, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/metrics", nil)
	if err != nil {
		return flushHist{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return flushHist{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return flushHist{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return flushHist{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseFlushHist(bytes.NewReader(body))
}
