package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Bucket layout (nanoseconds, subBits = 5):
//
//	index 0..63          value == index (exact)
//	index s*32 + m       values [m<<s, (m+1)<<s) for shift s ≥ 1, m in 32..63
//
// so bucket width / bucket start ≤ 1/32 and the midpoint is within 1/64 of
// any value in the bucket. math.MaxInt64 lands in the last bucket.
const (
	subBits    = 5
	subCount   = 1 << subBits
	numBuckets = (63-subBits)*subCount + subCount // index of MaxInt64 is 57*32+63
)

// Histogram records durations in log-linear buckets. The zero value is ready
// to use; Record and the readers are safe for concurrent use (readers racing
// with Record see a slightly stale but consistent-enough view).
type Histogram struct {
	counts [numBuckets]atomic.Int64
	n      atomic.Int64
	min    atomic.Int64 // valid when n > 0; stored as value+1 so 0 means unset
	max    atomic.Int64
}

func bucketOf(v int64) int {
	if v < 2*subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - 1 - subBits
	return shift*subCount + int(v>>shift)
}

// bucketRange returns the smallest and largest value in bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < 2*subCount {
		return int64(i), int64(i)
	}
	shift := i/subCount - 1
	m := int64(i%subCount + subCount)
	lo = m << shift
	return lo, lo + (int64(1) << shift) - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := h.min.Load()
		if (cur != 0 && v+1 >= cur) || h.min.CompareAndSwap(cur, v+1) {
			break
		}
	}
}

// Count is the number of recorded durations.
func (h *Histogram) Count() int64 { return h.n.Load() }

// Max is the largest recorded duration (0 if none).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the q-quantile (0 < q ≤ 1) by the nearest-rank method:
// the smallest recorded value v such that at least q of all values are ≤ v,
// approximated by the midpoint of its bucket and clamped to the recorded
// minimum and maximum. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := bucketRange(i)
			mid := lo + (hi-lo)/2
			return time.Duration(min(max(mid, h.min.Load()-1), h.max.Load()))
		}
	}
	// Counts raced ahead of n: the answer is the largest value.
	return h.Max()
}
