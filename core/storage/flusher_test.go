package storage

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestGroupCommitSharesFsyncs: many producers on many logs, each waiting for
// durability after every append, need far fewer flush passes than appends.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	const logs, producersPerLog, appends = 6, 4, 25
	var ls []*Log
	for i := range logs {
		ls = append(ls, openLog(t, fmt.Sprintf("%s/p%d", t.TempDir(), i), Options{Fsync: true}, fl))
	}
	before := fl.Passes()
	ctx := waitCtx(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, logs*producersPerLog)
	for _, l := range ls {
		for range producersPerLog {
			wg.Go(func() {
				for i := range appends {
					res, err := l.Append(testBatch(2, int64(i), "g"), 0)
					if err == nil {
						err = l.WaitDurable(ctx, res.LastOffset)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	passes := fl.Passes() - before
	total := int64(logs * producersPerLog * appends)
	t.Logf("%d durable appends in %d flush passes", total, passes)
	if passes >= total/2 {
		t.Errorf("%d passes for %d appends: fsyncs are not shared", passes, total)
	}
	for _, l := range ls {
		want := int64(producersPerLog * appends * 2)
		if l.HighWatermark() != want || l.EndOffset() != want {
			t.Errorf("%s: HWM %d LEO %d, want %d", l.Dir(), l.HighWatermark(), l.EndOffset(), want)
		}
		checkContiguous(t, readAllRecords(t, l), 0, want)
	}
}

func TestFlusherIdleDoesNothing(t *testing.T) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	l := openLog(t, t.TempDir(), Options{Fsync: true}, fl)
	res := mustAppend(t, l, testBatch(1, 0, "a"))
	if err := l.WaitDurable(waitCtx(t, 5*time.Second), res.LastOffset); err != nil {
		t.Fatal(err)
	}
	passes := fl.Passes()
	time.Sleep(30 * time.Millisecond)
	if got := fl.Passes(); got != passes {
		t.Fatalf("idle flusher ran %d passes", got-passes)
	}
}

func TestFlusherCloseFlushesQueued(t *testing.T) {
	fl := NewFlusher(quietLogger())
	l := openLog(t, t.TempDir(), Options{FlushInterval: time.Hour}, fl)
	mustAppend(t, l, testBatch(1, 0, "a"))
	fl.Close()
	l.mu.RLock()
	flushed := l.flushed.next
	l.mu.RUnlock()
	if flushed != 1 {
		t.Fatalf("flushed up to %d after Flusher.Close, want 1", flushed)
	}
	// After the Flusher is gone a Fsync log syncs inline.
	l2 := openLog(t, t.TempDir(), Options{Fsync: true}, fl)
	mustAppend(t, l2, testBatch(1, 0, "a"))
	if l2.HighWatermark() != 1 {
		t.Fatalf("HWM %d after append with a closed flusher, want 1", l2.HighWatermark())
	}
	if err := fl.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWaitDurableContext(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{Fsync: true}, stoppedFlusher())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.WaitDurable(ctx, 0); err != context.Canceled {
		t.Fatalf("WaitDurable with cancelled ctx = %v", err)
	}
}
