package storage

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamd/streamd/core/batch"
)

// With SegmentBytes 1000 every 600-byte batch goes into a segment of its
// own, so segment i holds offset i.
const (
	retSegBytes   = 1000
	retBatchBytes = 600
)

var retNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// oneBatchSegments opens a log and appends one batch per timestamp, each in
// its own segment (the last one is the active segment).
func oneBatchSegments(t *testing.T, dir string, ts []int64) *Log {
	t.Helper()
	l := openLog(t, dir, Options{SegmentBytes: retSegBytes, Now: func() time.Time { return retNow }}, nil)
	for _, x := range ts {
		mustAppend(t, l, sizedBatch(retBatchBytes, x))
	}
	if n := len(l.Segments()); n != len(ts) {
		t.Fatalf("%d segments, want %d", n, len(ts))
	}
	return l
}

// checkRetained checks that the log now starts at segment `deleted` and
// that the segments below are gone from disk and from reads.
func checkRetained(t *testing.T, l *Log, res RetentionResult, total, deleted int) {
	t.Helper()
	if res.SegmentsDeleted != deleted || res.NewStartOffset != int64(deleted) {
		t.Fatalf("result %+v, want %d segments deleted, start %d", res, deleted, deleted)
	}
	segs := l.Segments()
	if len(segs) != total-deleted || segs[0].BaseOffset != int64(deleted) {
		t.Fatalf("%d segments left starting at %d, want %d starting at %d", len(segs), segs[0].BaseOffset, total-deleted, deleted)
	}
	if got := len(segmentFiles(t, l.Dir(), LogSuffix)); got != total-deleted {
		t.Errorf("%d segment files, want %d", got, total-deleted)
	}
	if l.StartOffset() != int64(deleted) {
		t.Errorf("StartOffset %d, want %d", l.StartOffset(), deleted)
	}
	var size int64
	for _, s := range segs {
		size += s.Size
	}
	if l.Size() != size {
		t.Errorf("Size %d, segments sum to %d", l.Size(), size)
	}
	if deleted > 0 {
		if _, err := l.Read(int64(deleted)-1, 1<<20); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Errorf("Read below new start = %v, want ErrOffsetOutOfRange", err)
		}
	}
	checkContiguous(t, readAllRecords(t, l), int64(deleted), int64(total))
}

func TestRetentionByTime(t *testing.T) {
	const hour = int64(time.Hour / time.Millisecond)
	now := retNow.UnixMilli()
	old, recent := now-2*hour, now-hour/2
	limit := now - hour // retention.ms = 1 hour
	tests := []struct {
		name        string
		ts          []int64 // one segment each
		retentionMs int64
		deleted     int
	}{
		{"all expired, active kept", []int64{old, old, old, old}, hour, 3},
		{"stops at first kept segment", []int64{old, old, recent, old, old}, hour, 2},
		{"newest first keeps everything", []int64{recent, old, old}, hour, 0},
		{"exactly at the limit is kept", []int64{old, limit, old}, hour, 1},
		{"just past the limit goes", []int64{old, limit - 1, old}, hour, 2},
		{"retention.ms -1 keeps forever", []int64{old, old, old}, -1, 0},
		{"retention.ms 0 expires everything old", []int64{old, recent, recent}, 0, 2},
		{"no timestamps: by creation time", []int64{-1, -1, -1}, hour / 4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := oneBatchSegments(t, t.TempDir(), tc.ts)
			res, err := l.ApplyRetention(tc.retentionMs, -1, retNow)
			if err != nil {
				t.Fatal(err)
			}
			checkRetained(t, l, res, len(tc.ts), tc.deleted)
			if tc.deleted > 0 && res.BytesDeleted != int64(tc.deleted)*l.Segments()[0].Size {
				t.Errorf("BytesDeleted %d, want %d segments' worth", res.BytesDeleted, tc.deleted)
			}
		})
	}
}

// Segments without timestamps are judged by when they were created.
func TestRetentionByCreationTime(t *testing.T) {
	clock := retNow
	l := openLog(t, t.TempDir(), Options{SegmentBytes: retSegBytes, Now: func() time.Time { return clock }}, nil)
	mustAppend(t, l, sizedBatch(retBatchBytes, -1))
	mustAppend(t, l, sizedBatch(retBatchBytes, -1))
	clock = clock.Add(2 * time.Hour)
	mustAppend(t, l, sizedBatch(retBatchBytes, -1))
	mustAppend(t, l, sizedBatch(retBatchBytes, -1))
	for _, s := range l.Segments() {
		if s.MaxTimestamp != -1 {
			t.Fatalf("segment %d has MaxTimestamp %d, want none", s.BaseOffset, s.MaxTimestamp)
		}
	}
	res, err := l.ApplyRetention(int64(time.Hour/time.Millisecond), -1, clock)
	if err != nil {
		t.Fatal(err)
	}
	checkRetained(t, l, res, 4, 2)
}

func TestRetentionBySize(t *testing.T) {
	ts := []int64{1, 2, 3, 4, 5} // 5 equal segments, the last active
	probe := oneBatchSegments(t, t.TempDir(), ts[:1])
	seg := probe.Size()
	tests := []struct {
		name           string
		retentionBytes int64
		deleted        int
	}{
		{"keep two segments", 2 * seg, 3},
		{"one byte more keeps three", 2*seg + 1, 2},
		{"limit equal to the log deletes nothing", 5 * seg, 0},
		{"limit one segment below the log deletes one", 4 * seg, 1},
		{"zero keeps only the active segment", 0, 4},
		{"unlimited", -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := oneBatchSegments(t, t.TempDir(), ts)
			res, err := l.ApplyRetention(-1, tc.retentionBytes, retNow)
			if err != nil {
				t.Fatal(err)
			}
			checkRetained(t, l, res, len(ts), tc.deleted)
			if res.BytesDeleted != int64(tc.deleted)*seg {
				t.Errorf("BytesDeleted %d, want %d", res.BytesDeleted, int64(tc.deleted)*seg)
			}
			if tc.retentionBytes >= 0 && l.Size() < tc.retentionBytes && tc.deleted > 0 {
				t.Errorf("size %d fell below retention.bytes %d", l.Size(), tc.retentionBytes)
			}
		})
	}
}

// Time goes first, then size continues from where time stopped.
func TestRetentionTimeThenSize(t *testing.T) {
	now := retNow.UnixMilli()
	l := oneBatchSegments(t, t.TempDir(), []int64{now - 10_000, now, now, now, now, now})
	seg := l.Segments()[0].Size
	res, err := l.ApplyRetention(5_000, 3*seg, retNow)
	if err != nil {
		t.Fatal(err)
	}
	checkRetained(t, l, res, 6, 3) // 1 by time, 2 more by size
}

func TestRetentionNeverPassesHighWatermark(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: retSegBytes, Fsync: true}, stoppedFlusher())
	for range 4 {
		mustAppend(t, l, sizedBatch(retBatchBytes, 1))
	}
	if l.HighWatermark() != 0 {
		t.Fatalf("HWM %d before any sync", l.HighWatermark())
	}
	res, err := l.ApplyRetention(0, 0, retNow)
	if err != nil || res.SegmentsDeleted != 0 || l.StartOffset() != 0 {
		t.Fatalf("retention above the HWM: %+v, %v, start %d", res, err, l.StartOffset())
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	res, err = l.ApplyRetention(0, 0, retNow)
	if err != nil || res.SegmentsDeleted != 3 || res.NewStartOffset != 3 {
		t.Fatalf("after sync: %+v, %v", res, err)
	}
}

func TestRetentionPersistsStartOffset(t *testing.T) {
	dir := t.TempDir()
	l := oneBatchSegments(t, dir, []int64{1, 2, 3, 4, 5})
	if _, err := l.ApplyRetention(-1, 2*l.Segments()[0].Size, retNow); err != nil {
		t.Fatal(err)
	}
	for _, stop := range []func(*Log){crash, func(l *Log) { l.Close() }} {
		stop(l)
		l = openLog(t, dir, Options{SegmentBytes: retSegBytes}, nil)
		if l.StartOffset() != 3 || l.EndOffset() != 5 {
			t.Fatalf("reopen: start %d end %d, want 3 and 5", l.StartOffset(), l.EndOffset())
		}
		checkContiguous(t, readAllRecords(t, l), 3, 5)
	}
	if res, err := l.ApplyRetention(-1, -1, retNow); err != nil || res.NewStartOffset != 3 || res.SegmentsDeleted != 0 {
		t.Fatalf("no-op retention: %+v, %v", res, err)
	}
	l.Close()
	if _, err := l.ApplyRetention(0, 0, retNow); !errors.Is(err, ErrClosed) {
		t.Fatalf("ApplyRetention on a closed log = %v, want ErrClosed", err)
	}
}

// A reader that holds a segment keeps reading it after retention deleted it.
func TestRetentionReaderHoldsDeletedSegment(t *testing.T) {
	l := oneBatchSegments(t, t.TempDir(), []int64{1, 2, 3})
	fr, err := l.ReadFile(0, 1<<20)
	if err != nil || fr.Len == 0 {
		t.Fatalf("ReadFile(0): %d bytes, %v", fr.Len, err)
	}
	defer fr.Release()
	if res, err := l.ApplyRetention(0, -1, retNow); err != nil || res.SegmentsDeleted != 2 {
		t.Fatalf("retention: %+v, %v", res, err)
	}
	buf := make([]byte, fr.Len)
	if _, err := fr.File.ReadAt(buf, fr.Pos); err != nil {
		t.Fatalf("reading the deleted segment: %v", err)
	}
	if recs := decode(t, buf); len(recs) != 1 || recs[0].off != 0 {
		t.Fatalf("deleted segment holds %+v, want offset 0", recs)
	}
	if _, err := l.ReadFile(0, 1<<20); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("ReadFile(0) after retention = %v, want ErrOffsetOutOfRange", err)
	}
}

// TestRetentionConcurrentReads races an appender, readers (Read and
// ReadFile) and retention by size (run with -race): every read returns the
// right records or ErrOffsetOutOfRange.
func TestRetentionConcurrentReads(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 2048, IndexIntervalBytes: 128}, nil)
	const total = 3000
	var stop atomic.Bool
	var wg sync.WaitGroup
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
		stop.Store(true)
	}
	// check verifies that data holds whole batches covering off whose
	// records carry their own offset as value.
	check := func(off int64, data []byte) bool {
		h, recs, err := batch.Records(data)
		if err != nil || !batch.VerifyCRC(data[:h.TotalSize()]) || h.BaseOffset > off || h.LastOffset() < off {
			fail("read at %d: batch %d..%d, %v", off, h.BaseOffset, h.LastOffset(), err)
			return false
		}
		for _, r := range recs {
			if want := strconv.FormatInt(h.BaseOffset+int64(r.OffsetDelta), 10); string(r.Value) != want {
				fail("read at %d: record value %q, want %q", off, r.Value, want)
				return false
			}
		}
		return true
	}
	wg.Go(func() {
		for off := int64(0); off < total && !stop.Load(); off++ {
			b := batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Value: []byte(strconv.FormatInt(off, 10))}}, off)
			if _, err := l.Append(b, 0); err != nil {
				fail("Append: %v", err)
			}
		}
	})
	for r := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !stop.Load() {
				lo, hi := l.StartOffset(), l.HighWatermark()
				if hi <= lo {
					continue
				}
				off := lo + rng.Int64N(hi-lo)
				if r == 0 {
					fr, err := l.ReadFile(off, 4096)
					if errors.Is(err, ErrOffsetOutOfRange) {
						continue
					}
					if err != nil || fr.Len == 0 {
						fail("ReadFile(%d): %d bytes, %v", off, fr.Len, err)
						return
					}
					time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond) // let retention run meanwhile
					buf := make([]byte, fr.Len)
					_, err = fr.File.ReadAt(buf, fr.Pos)
					fr.Release()
					if err != nil {
						fail("ReadFile(%d) then ReadAt: %v", off, err)
						return
					}
					if !check(off, buf) {
						return
					}
					continue
				}
				res, err := l.Read(off, int32(rng.IntN(4096)))
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue
				}
				if err != nil || len(res.Data) == 0 {
					fail("Read(%d): %d bytes, %v", off, len(res.Data), err)
					return
				}
				if !check(off, res.Data) {
					return
				}
			}
		})
	}
	var deleted atomic.Int64
	wg.Go(func() {
		for !stop.Load() {
			res, err := l.ApplyRetention(-1, 8192, time.Now())
			if err != nil {
				fail("ApplyRetention: %v", err)
			}
			deleted.Add(int64(res.SegmentsDeleted))
			time.Sleep(200 * time.Microsecond)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for l.EndOffset() < total && !stop.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}
	if deleted.Load() == 0 {
		t.Fatal("retention deleted nothing")
	}
	if _, err := l.ApplyRetention(-1, 8192, time.Now()); err != nil { // the appends after the last run
		t.Fatal(err)
	}
	if l.Size() < 8192 || l.Size() > 8192+2048 {
		t.Errorf("size %d after retention.bytes 8192 with 2 KiB segments", l.Size())
	}
	checkContiguous(t, readAllRecords(t, l), l.StartOffset(), total)
}
