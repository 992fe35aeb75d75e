package storage

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// maxFlushWorkers bounds how many logs one pass syncs in parallel.
const maxFlushWorkers = 4

// Flusher does group commit for every log of a broker with one goroutine.
//
// Logs with Options.Fsync enqueue themselves on every append (an atomic flag
// keeps that to one entry per pass). The goroutine sleeps until there is
// work, takes the whole set at once and flushes each log (a few in
// parallel); appends arriving meanwhile go into the next pass, so all of
// them share its fsyncs. Logs without Fsync enqueue themselves with a
// deadline of FlushInterval after their first unflushed append.
//
// The Flusher also owns the broker's reaper, which frees the disk blocks of
// deleted segment files step by step (reaper.go).
type Flusher struct {
	logger *slog.Logger

	mu       sync.Mutex
	urgent   []*Log
	lazy     []lazyLog
	deadline time.Time // earliest lazy deadline, zero if none
	closed   bool

	wake   chan struct{} // buffered(1): work arrived
	stop   chan struct{}
	done   chan struct{}
	passes atomic.Int64

	reaper reaper // frees deleted segments' blocks gradually (reaper.go)
}

type lazyLog struct {
	l   *Log
	due time.Time
}

// NewFlusher starts the flush goroutine. Close stops it.
func NewFlusher(logger *slog.Logger) *Flusher {
	if logger == nil {
		logger = slog.Default()
	}
	f := &Flusher{
		logger: logger,
		reaper: reaper{logger: logger},
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go f.run()
	return f
}

// Close flushes every log still queued and stops the goroutine. Logs that
// append afterwards sync inline (Fsync) or only on Sync/Close (!Fsync).
// Deleted segments still being freed by the reaper are closed at once.
func (f *Flusher) Close() error {
	f.mu.Lock()
	already := f.closed
	f.closed = true
	f.mu.Unlock()
	if !already {
		close(f.stop)
	}
	<-f.done
	f.reaper.close()
	return nil
}

// Passes returns how many flush passes ran (each passes over at least one
// log): a measure of how well fsyncs are shared.
func (f *Flusher) Passes() int64 { return f.passes.Load() }

// enqueue asks for l to be flushed in the next pass; false if the Flusher is
// nil or closed.
func (f *Flusher) enqueue(l *Log) bool {
	if f == nil {
		return false
	}
	if !l.queued.CompareAndSwap(false, true) {
		return true
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		l.queued.Store(false)
		return false
	}
	f.urgent = append(f.urgent, l)
	f.mu.Unlock()
	f.signal()
	return true
}

// enqueueLazy asks for l to be flushed within interval.
func (f *Flusher) enqueueLazy(l *Log, interval time.Duration) bool {
	if f == nil {
		return false
	}
	if !l.lazyQueued.CompareAndSwap(false, true) {
		return true
	}
	due := time.Now().Add(interval)
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		l.lazyQueued.Store(false)
		return false
	}
	f.lazy = append(f.lazy, lazyLog{l: l, due: due})
	earlier := f.deadline.IsZero() || due.Before(f.deadline)
	if earlier {
		f.deadline = due
	}
	f.mu.Unlock()
	if earlier {
		f.signal() // re-arm the timer
	}
	return true
}

func (f *Flusher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Flusher) run() {
	defer close(f.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var logs []*Log
	for {
		final := false
		select {
		case <-f.stop:
			final = true
		case <-f.wake:
		case <-timer.C:
		}
		var next time.Time
		logs, next = f.take(logs[:0], time.Now(), final)
		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(next))
		}
		f.pass(logs)
		clear(logs)
		if final {
			timer.Stop()
			return
		}
	}
}

// take moves the queued logs (and the due timed ones, or all on the final
// pass) into dst and returns the next timed deadline.
func (f *Flusher) take(dst []*Log, now time.Time, all bool) ([]*Log, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.urgent {
		l.queued.Store(false) // appends from now on queue it again
		dst = append(dst, l)
	}
	clear(f.urgent)
	f.urgent = f.urgent[:0]
	var next time.Time
	keep := f.lazy[:0]
	for _, e := range f.lazy {
		if all || !e.due.After(now) {
			e.l.lazyQueued.Store(false)
			dst = append(dst, e.l)
			continue
		}
		keep = append(keep, e)
		if next.IsZero() || e.due.Before(next) {
			next = e.due
		}
	}
	clear(f.lazy[len(keep):])
	f.lazy = keep
	f.deadline = next
	return dst, next
}

// pass flushes logs, up to maxFlushWorkers at a time.
func (f *Flusher) pass(logs []*Log) {
	if len(logs) == 0 {
		return
	}
	f.passes.Add(1)
	if len(logs) == 1 {
		logs[0].flush(flushNormal) // failures are recorded (and logged) by the log
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(logs), maxFlushWorkers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(logs) {
					return
				}
				logs[i].flush(flushNormal)
			}
		})
	}
	wg.Wait()
}
