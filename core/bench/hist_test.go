package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketLayoutIsContiguous(t *testing.T) {
	if got := bucketOf(math.MaxInt64); got != numBuckets-1 {
		t.Fatalf("bucketOf(MaxInt64) = %d, want last bucket %d", got, numBuckets-1)
	}
	prevHi := int64(-1)
	for i := range numBuckets {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d = [%d,%d] but bucketOf gives %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= 2*subCount && float64(hi-lo+1)/float64(lo) > 1.0/subCount {
			t.Fatalf("bucket %d = [%d,%d] is wider than 1/%d of its start", i, lo, hi, subCount)
		}
		prevHi = hi
	}
	if prevHi != math.MaxInt64 {
		t.Fatalf("last bucket ends at %d, want MaxInt64", prevHi)
	}
}

func TestQuantileKnownValues(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ { // 1ms .. 1000ms, shuffled order does not matter
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Millisecond},
		{0.99, 990 * time.Millisecond},
		{0.999, 999 * time.Millisecond},
		{1, 1000 * time.Millisecond},
		{0.0001, 1 * time.Millisecond},
	} {
		got := h.Quantile(tc.q)
		if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 1.0/64 {
			t.Errorf("Quantile(%g) = %v, want %v ±1/64 (off by %.2f%%)", tc.q, got, tc.want, rel*100)
		}
	}
	if h.Count() != 1000 || h.Max() != time.Second {
		t.Errorf("Count, Max = %d, %v; want 1000, 1s", h.Count(), h.Max())
	}
}

func TestQuantileMatchesExactNearestRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var h Histogram
	vals := make([]time.Duration, 20000)
	for i := range vals {
		// Log-normal-ish spread from ~10µs to ~1s, like real latencies.
		vals[i] = time.Duration(math.Exp(rng.NormFloat64()*1.5+13) + 1)
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
		rank := int(math.Ceil(q * float64(len(vals))))
		want := vals[rank-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 1.0/64 {
			t.Errorf("Quantile(%g) = %v, exact %v: off by %.2f%%, more than 1/64", q, got, want, rel*100)
		}
	}
}

func TestQuantileEdgeCases(t *testing.T) {
	var empty Histogram
	if got := empty.Quantile(0.99); got != 0 {
		t.Errorf("empty Quantile = %v, want 0", got)
	}
	var one Histogram
	one.Record(1234567 * time.Nanosecond)
	for _, q := range []float64{0, 0.5, 1} {
		if got := one.Quantile(q); got != 1234567 {
			t.Errorf("single value: Quantile(%g) = %v, want exactly 1.234567ms (clamped)", q, got)
		}
	}
	var small Histogram
	small.Record(-5) // clamps to 0
	small.Record(3)
	if got := small.Quantile(0.5); got != 0 {
		t.Errorf("Quantile(0.5) of {0,3} = %v, want 0", got)
	}
	if got := small.Quantile(1); got != 3 {
		t.Errorf("Quantile(1) of {0,3} = %v, want 3ns (exact below 64ns)", got)
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i+1) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 8000 {
		t.Fatalf("Count = %d, want 8000", h.Count())
	}
	if h.Max() != 8000*time.Microsecond {
		t.Fatalf("Max = %v, want 8ms", h.Max())
	}
	if got, want := h.Quantile(0.5), 4000*time.Microsecond; math.Abs(float64(got-want))/float64(want) > 1.0/64 {
		t.Fatalf("p50 = %v, want about %v", got, want)
	}
}
