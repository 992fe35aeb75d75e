package storage

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/streamd/streamd/core/batch"
)

func TestDirtyRatio(t *testing.T) {
	l, err := Open(t.TempDir(), Options{SegmentBytes: 1024}, nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	appendKeyed := func(n int) {
		t.Helper()
		for i := range n {
			recs := []batch.Record{{Key: fmt.Appendf(nil, "k%d", i%4), Value: make([]byte, 100)}}
			if _, err := l.Append(batch.Build(batch.BuildOptions{ProducerID: -1}, recs, 1), 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	ratio := func() float64 {
		t.Helper()
		d, err := l.DirtyRatio()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := ratio(); d != 0 {
		t.Fatalf("empty log: dirty ratio %v, want 0", d)
	}
	appendKeyed(40)
	if d := ratio(); d != 1 {
		t.Fatalf("never cleaned: dirty ratio %v, want 1", d)
	}
	if res, err := l.Compact(CompactOptions{}); err != nil || !res.Cleaned || res.DirtyRatio != 1 {
		t.Fatalf("compact: %+v, %v", res, err)
	}
	if d := ratio(); d != 0 {
		t.Fatalf("just cleaned: dirty ratio %v, want 0", d)
	}
	appendKeyed(40)
	d := ratio()
	if d <= 0 || d >= 1 {
		t.Fatalf("after new appends: dirty ratio %v, want in (0,1)", d)
	}
	if res, err := l.Compact(CompactOptions{}); err != nil || res.DirtyRatio != d {
		t.Fatalf("compact saw dirty ratio %v (%v), DirtyRatio said %v", res.DirtyRatio, err, d)
	}
	l.Close()
	if _, err := l.DirtyRatio(); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed log: %v, want ErrClosed", err)
	}
}

// TestFlushStatsBuckets: a flush time falls in the first bucket whose bound
// it does not exceed; past every bound it counts only in Count. (Not
// parallel: the histogram is process-wide.)
func TestFlushStatsBuckets(t *testing.T) {
	before := ReadFlushStats()
	for _, d := range []time.Duration{50 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 11 * time.Millisecond, 20 * time.Second} {
		observeFlush(d)
	}
	after := ReadFlushStats()
	grew := func(le float64) uint64 {
		for i, b := range FlushBounds {
			if b == le {
				return after.Buckets[i] - before.Buckets[i]
			}
		}
		t.Fatalf("no bound %v", le)
		return 0
	}
	for _, c := range []struct {
		le   float64
		want uint64
	}{{0.0001, 1}, {0.005, 2}, {0.01, 3}, {0.025, 4}, {10, 4}} {
		if got := grew(c.le); got != c.want {
			t.Errorf("bucket le=%v grew by %d; want %d", c.le, got, c.want)
		}
	}
	if d := after.Count - before.Count; d != 5 {
		t.Errorf("Count grew by %d; want 5", d)
	}
	if d, want := after.Sum-before.Sum, 20*time.Second+26050*time.Microsecond; d != want {
		t.Errorf("Sum grew by %v; want %v", d, want)
	}
}
