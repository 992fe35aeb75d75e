package storage

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamd/streamd/core/batch"
)

func TestDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024}
	l := openLog(t, dir, opts, nil)
	for i := range 60 {
		mustAppend(t, l, testBatch(2, int64(i), "d")) // offsets 0..119
	}
	segs := l.Segments()
	if len(segs) < 5 {
		t.Fatalf("%d segments", len(segs))
	}
	if _, err := l.DeleteRecords(121); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecords above HWM = %v, want ErrOffsetOutOfRange", err)
	}
	if _, err := l.DeleteRecords(-2); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecords(-2) = %v, want ErrOffsetOutOfRange", err)
	}
	// Synced (but no recovery point written since Open): DeleteRecords must
	// write one naming a segment that survives.
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// In the middle of the third segment: the first two go.
	before := segs[2].BaseOffset + 3
	start, err := l.DeleteRecords(before)
	if err != nil || start != before {
		t.Fatalf("DeleteRecords(%d) = %d, %v", before, start, err)
	}
	if got := len(segmentFiles(t, dir, LogSuffix)); got != len(segs)-2 {
		t.Errorf("%d segment files after delete, want %d", got, len(segs)-2)
	}
	if _, err := l.Read(before-1, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Errorf("Read below start = %v, want ErrOffsetOutOfRange", err)
	}
	res, err := l.Read(before, 100)
	if err != nil || res.LogStartOffset != before {
		t.Fatalf("Read(start): %v, start %d", err, res.LogStartOffset)
	}
	if s, _ := l.DeleteRecords(before - 5); s != before {
		t.Errorf("DeleteRecords below start moved it to %d", s)
	}
	checkContiguous(t, readAllRecords(t, l), before, 120)
	var size int64
	for _, s := range l.Segments() {
		size += s.Size
	}
	if l.Size() != size {
		t.Errorf("Size %d, segments sum to %d", l.Size(), size)
	}

	// Persisted, also after a crash.
	crash(l)
	l = openLog(t, dir, opts, nil)
	if l.StartOffset() != before {
		t.Fatalf("start offset after reopen %d, want %d", l.StartOffset(), before)
	}
	if l.LastRecovery().BytesScanned != 0 {
		t.Errorf("reopen after DeleteRecords scanned %d bytes", l.LastRecovery().BytesScanned)
	}
	// -1 = up to the HWM: everything goes, appends continue.
	if start, err := l.DeleteRecords(-1); err != nil || start != 120 {
		t.Fatalf("DeleteRecords(-1) = %d, %v", start, err)
	}
	if got := segmentFiles(t, dir, LogSuffix); len(got) != 1 || l.Size() != 0 {
		t.Fatalf("after deleting everything: files %v, size %d", got, l.Size())
	}
	if r, err := l.Read(120, 100); err != nil || len(r.Data) != 0 {
		t.Fatalf("Read(120) = %d bytes, %v", len(r.Data), err)
	}
	if r := mustAppend(t, l, testBatch(1, 0, "z")); r.BaseOffset != 120 {
		t.Fatalf("append after full delete at %d", r.BaseOffset)
	}
	l.Close()
	l = openLog(t, dir, opts, nil)
	if l.StartOffset() != 120 || l.EndOffset() != 121 {
		t.Fatalf("reopen: start %d end %d", l.StartOffset(), l.EndOffset())
	}
}

func TestDeleteRecordsInterruptedIsFinishedAtOpen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024}
	l := openLog(t, dir, opts, nil)
	for i := range 40 {
		mustAppend(t, l, testBatch(2, int64(i), "d"))
	}
	segs := l.Segments()
	l.Close()
	// As if DeleteRecords crashed after persisting the start offset.
	if err := writeFileAtomic(dir, LogStartOffsetFile, formatStartOffset(segs[3].BaseOffset+1)); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, opts, nil)
	if got := l.Segments(); got[0].BaseOffset != segs[3].BaseOffset {
		t.Fatalf("first segment %d, want %d", got[0].BaseOffset, segs[3].BaseOffset)
	}
	checkContiguous(t, readAllRecords(t, l), segs[3].BaseOffset+1, 80)
}

// TestConcurrentReadAppendDelete races appenders, readers, timestamp
// lookups and DeleteRecords (run with -race).
func TestConcurrentReadAppendDelete(t *testing.T) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	for _, fsync := range []bool{false, true} {
		l := openLog(t, t.TempDir(), Options{SegmentBytes: 2048, IndexIntervalBytes: 128, Fsync: fsync}, fl)
		var stop atomic.Bool
		var wg sync.WaitGroup
		fail := func(format string, args ...any) {
			t.Errorf(format, args...)
			stop.Store(true)
		}
		for range 2 {
			wg.Go(func() {
				for i := 0; !stop.Load() && i < 400; i++ {
					if _, err := l.Append(testBatch(3, int64(i), "c"), 1); err != nil {
						fail("Append: %v", err)
					}
				}
			})
		}
		for r := range 3 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(r), 1))
				for !stop.Load() {
					lo, hi := l.StartOffset(), l.HighWatermark()
					if hi <= lo {
						continue
					}
					off := lo + rng.Int64N(hi-lo)
					res, err := l.Read(off, int32(rng.IntN(4096)))
					if errors.Is(err, ErrOffsetOutOfRange) {
						continue // deleted meanwhile
					}
					if err != nil {
						fail("Read(%d): %v", off, err)
						return
					}
					if len(res.Data) == 0 {
						fail("Read(%d) below HWM %d returned nothing", off, hi)
						return
					}
					h, _ := batch.ParseHeader(res.Data)
					if h.BaseOffset > off || h.LastOffset() < off || !batch.VerifyCRC(res.Data) {
						fail("Read(%d) returned batch %d..%d", off, h.BaseOffset, h.LastOffset())
						return
					}
					l.OffsetForTimestamp(int64(rng.IntN(400)))
					l.MaxTimestamp()
					l.Segments()
				}
			})
		}
		wg.Go(func() {
			for !stop.Load() {
				hwm := l.HighWatermark()
				if _, err := l.DeleteRecords(hwm - 30); err != nil && hwm >= 30 {
					fail("DeleteRecords: %v", err)
				}
				time.Sleep(time.Millisecond)
			}
		})
		deadline := time.Now().Add(10 * time.Second)
		for l.EndOffset() < 2400 && !stop.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		stop.Store(true)
		wg.Wait()
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		if l.EndOffset() != 2400 || l.HighWatermark() != 2400 {
			t.Fatalf("fsync=%v: LEO %d HWM %d, want 2400", fsync, l.EndOffset(), l.HighWatermark())
		}
		checkContiguous(t, readAllRecords(t, l), l.StartOffset(), 2400)
		l.Close()
	}
}
