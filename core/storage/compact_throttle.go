package storage

import (
	"math"
	"time"
)

// throttle paces a Compact pass so that it leaves the machine to the produce
// and fetch paths:
//
//   - I/O: reads plus writes at most CompactOptions.IOBytesPerSecond (Kafka's
//     log.cleaner.io.max.bytes.per.second), averaged over the pass;
//   - time: with a DutyCycle below 1 it sleeps after each cleanerSlice of
//     work long enough to work at most that fraction of the wall time.
//
// Giving way to other goroutines at a finer grain is the caller's business:
// the broker runs passes on a low-priority thread with a processor of their
// own (core/broker/priority.go). It also notices CompactOptions.Stop and a
// closed log.
type throttle struct {
	l     *Log
	rate  float64 // bytes/s; 0: unlimited
	start time.Time
	bytes float64
	stop  <-chan struct{}

	duty       float64 // 0: no limit
	processed  int     // bytes processed since the clock was last read
	sliceStart time.Time
	paused     time.Duration // slept so far
}

const (
	// cleanerCheckBytes: work reads the clock after this many bytes of
	// batches processed (about 20-200 µs of work).
	cleanerCheckBytes = 32 << 10
	// cleanerSlice is the work slice DutyCycle applies to.
	cleanerSlice = 4 * time.Millisecond
)

func newThrottle(l *Log, opts CompactOptions) *throttle {
	rate := opts.IOBytesPerSecond
	if rate >= math.MaxFloat64 || math.IsInf(rate, 1) || math.IsNaN(rate) {
		rate = 0
	}
	duty := opts.DutyCycle
	if !(duty > 0 && duty < 1) {
		duty = 0
	}
	now := time.Now()
	return &throttle{l: l, rate: rate, start: now, stop: opts.Stop, duty: duty, sliceStart: now}
}

// add accounts n bytes of I/O, sleeping while the pass is ahead of its rate.
func (t *throttle) add(n int) error {
	t.bytes += float64(n)
	if err := t.check(); err != nil {
		return err
	}
	if t.rate <= 0 {
		return nil
	}
	ahead := time.Duration(t.bytes/t.rate*float64(time.Second)) - time.Since(t.start)
	if ahead <= 0 {
		return nil
	}
	return t.sleep(ahead)
}

// work accounts n bytes of batches processed (decoded, filtered, copied),
// sleeping as DutyCycle says.
func (t *throttle) work(n int) error {
	if t.duty == 0 {
		return nil
	}
	if t.processed += n; t.processed < cleanerCheckBytes {
		return nil
	}
	t.processed = 0
	if busy := time.Since(t.sliceStart); busy >= cleanerSlice {
		return t.sleep(time.Duration(float64(busy) * (1 - t.duty) / t.duty))
	}
	return nil
}

// check returns ErrCompactStopped once Stop is closed and the log's error
// once it is closed or failed.
func (t *throttle) check() error {
	select {
	case <-t.stop:
		return ErrCompactStopped
	default:
	}
	t.l.mu.RLock()
	err := t.l.usableLocked()
	t.l.mu.RUnlock()
	return err
}

// sleep waits d (in steps of at most 100 ms, checking Stop and Close) and
// starts a new work slice.
func (t *throttle) sleep(d time.Duration) error {
	t0 := time.Now()
	defer func() { t.paused += time.Since(t0) }()
	for end := t0.Add(d); ; {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		tm := time.NewTimer(min(left, 100*time.Millisecond))
		select {
		case <-t.stop:
			tm.Stop()
			return ErrCompactStopped
		case <-tm.C:
		}
		if err := t.check(); err != nil {
			return err
		}
	}
	t.sliceStart = time.Now()
	return nil
}
