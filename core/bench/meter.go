package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progressInterval is how often a Meter writes a progress line (tests shorten it).
var progressInterval = time.Second

// Meter counts finished records and their latencies for one run and, if
// given a writer, prints a progress line every second. It is the building
// block of Produce and Consume, exported so workloads on other clients
// (tools/peerbench drives NATS with it) report the same numbers. Record and
// Add are safe for concurrent use.
type Meter struct {
	label   string
	hist    Histogram
	records atomic.Int64
	bytes   atomic.Int64
	start   time.Time

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	result   Result
}

// StartMeter starts the clock. label prefixes progress lines ("produce").
// progress may be nil. Stop must be called to end the progress goroutine.
func StartMeter(label string, progress io.Writer) *Meter {
	return StartMeterAt(label, progress, time.Now())
}

// StartMeterAt is StartMeter with the clock starting at start, which may lie
// in the future (the end of a warm-up): no progress line is written before
// it, and Result.Elapsed is measured from it. Counting what finished before
// start is up to the caller.
func StartMeterAt(label string, progress io.Writer, start time.Time) *Meter {
	m := &Meter{label: label, start: start, stop: make(chan struct{}), done: make(chan struct{})}
	if progress == nil {
		close(m.done)
	} else {
		go m.report(progress)
	}
	return m
}

// Record counts one finished record of the given size with its latency.
func (m *Meter) Record(bytes int, latency time.Duration) {
	m.hist.Record(latency)
	m.records.Add(1)
	m.bytes.Add(int64(bytes))
}

// Add counts finished records without a latency (consumption).
func (m *Meter) Add(records, bytes int64) {
	m.records.Add(records)
	m.bytes.Add(bytes)
}

// Start is the time the clock started (or starts).
func (m *Meter) Start() time.Time { return m.start }

// Records is the number of records counted so far.
func (m *Meter) Records() int64 { return m.records.Load() }

// Stop stops the clock and the progress line and returns the result. Later
// calls return the same result.
func (m *Meter) Stop() Result { return m.StopAt(time.Now()) }

// StopAt is Stop with the clock stopped at end (say, when the last record
// came, for a run that then waited in vain).
func (m *Meter) StopAt(end time.Time) Result {
	m.stopOnce.Do(func() {
		elapsed := end.Sub(m.start)
		close(m.stop)
		<-m.done
		m.result = newResult(m.records.Load(), m.bytes.Load(), elapsed, &m.hist)
	})
	return m.result
}

func (m *Meter) report(w io.Writer) {
	defer close(m.done)
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	lastBytes, lastAt := int64(0), m.start
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			if now.Before(m.start) {
				continue // warming up
			}
			recs, bytes := m.records.Load(), m.bytes.Load()
			rate := float64(bytes-lastBytes) / mib / now.Sub(lastAt).Seconds()
			lastBytes, lastAt = bytes, now
			line := fmt.Sprintf("%s %3.0fs: %d records, %.1f MiB/s", m.label, now.Sub(m.start).Seconds(), recs, rate)
			if m.hist.Count() > 0 {
				line += ", p99 " + FormatLatency(m.hist.Quantile(0.99))
			}
			fmt.Fprintln(w, line)
		}
	}
}

// Pacer spaces calls to Wait so they happen at most rate times per second
// on average, measured from the first call. It does not sleep for gaps
// shorter than minSleep, so a run of late calls goes through at once
// and catches up with the schedule. One Pacer serves one goroutine.
type Pacer struct {
	perCall time.Duration // 0 = unlimited
	start   time.Time
	n       int64
	timer   *time.Timer
}

const minSleep = 100 * time.Microsecond

// NewPacer returns a Pacer for rate calls per second; rate ≤ 0 never waits.
func NewPacer(rate float64) *Pacer {
	if rate <= 0 {
		return &Pacer{}
	}
	return &Pacer{perCall: time.Duration(float64(time.Second) / rate)}
}

// Wait blocks until the next call is due or ctx is done (returning its error).
func (p *Pacer) Wait(ctx context.Context) error {
	if p.perCall == 0 {
		return nil
	}
	if p.n == 0 {
		p.start = time.Now()
	}
	due := p.start.Add(time.Duration(p.n) * p.perCall)
	p.n++
	d := time.Until(due)
	if d < minSleep {
		return ctx.Err()
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return nil
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	}
}
