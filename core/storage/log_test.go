package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/streamd/streamd/core/batch"
)

func TestAppendReadAcrossRolls(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 2048, IndexIntervalBytes: 256}
	l := openLog(t, dir, opts, nil)
	var want []string
	next := int64(0)
	for i := range 120 {
		n := i%5 + 1
		res := mustAppend(t, l, testBatch(n, int64(1000+i), fmt.Sprintf("b%d", i)))
		if res.BaseOffset != next || res.LastOffset != next+int64(n)-1 {
			t.Fatalf("batch %d: offsets [%d, %d], want [%d, %d]", i, res.BaseOffset, res.LastOffset, next, next+int64(n)-1)
		}
		next = res.LastOffset + 1
		for j := range n {
			want = append(want, fmt.Sprintf("b%d-%d", i, j))
		}
	}
	if got := l.EndOffset(); got != next {
		t.Fatalf("EndOffset = %d, want %d", got, next)
	}
	if got := l.HighWatermark(); got != next {
		t.Fatalf("HighWatermark = %d, want %d (no fsync: HWM = LEO)", got, next)
	}
	segs := l.Segments()
	if len(segs) < 5 {
		t.Fatalf("only %d segments after %d bytes with 2 KiB segments", len(segs), l.Size())
	}
	var total int64
	for i, s := range segs {
		total += s.Size
		if s.Size > 2048 {
			t.Errorf("segment %d is %d bytes, above SegmentBytes", s.BaseOffset, s.Size)
		}
		if i > 0 && s.BaseOffset != segs[i-1].NextOffset {
			t.Errorf("segment %d starts at %d, previous ends at %d", i, s.BaseOffset, segs[i-1].NextOffset)
		}
	}
	if total != l.Size() {
		t.Errorf("segment sizes sum to %d, Size() = %d", total, l.Size())
	}

	check := func(l *Log) {
		t.Helper()
		recs := readAllRecords(t, l)
		checkValues(t, "read", recs, want)
		// Every offset reads back starting with the batch holding it.
		for off := int64(0); off < next; off++ {
			res, err := l.Read(off, 1)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			rs := decode(t, res.Data)
			if rs[0].off > off || rs[len(rs)-1].off < off {
				t.Fatalf("Read(%d) returned offsets %d..%d", off, rs[0].off, rs[len(rs)-1].off)
			}
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, opts, nil)
	if st := l2.LastRecovery(); st.BytesScanned != 0 || st.BytesTruncated != 0 {
		t.Errorf("reopen after clean close: %+v, want nothing scanned", st)
	}
	check(l2)
	res := mustAppend(t, l2, testBatch(2, 5000, "after"))
	if res.BaseOffset != next {
		t.Errorf("append after reopen got offset %d, want %d", res.BaseOffset, next)
	}
}

func TestReadMaxBytes(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{IndexIntervalBytes: 100}, nil)
	var sizes []int
	for i := range 6 {
		b := sizedBatch(300+100*i, int64(i))
		sizes = append(sizes, len(b))
		mustAppend(t, l, b) // offsets 0..5, one record each
	}
	sum := func(from, to int) int {
		n := 0
		for _, s := range sizes[from:to] {
			n += s
		}
		return n
	}
	tests := []struct {
		name      string
		offset    int64
		maxBytes  int32
		wantBytes int
		wantErr   error
	}{
		{"first batch larger than maxBytes is whole", 0, 10, sizes[0], nil},
		{"zero maxBytes still gives one batch", 2, 0, sizes[2], nil},
		{"exact fit of two batches", 1, int32(sum(1, 3)), sum(1, 3), nil},
		{"one byte short of two batches", 1, int32(sum(1, 3) - 1), sizes[1], nil},
		{"large maxBytes stops at the HWM", 3, 1 << 20, sum(3, 6), nil},
		{"offset == HWM is empty", 6, 1 << 20, 0, nil},
		{"offset beyond LEO", 7, 1 << 20, 0, ErrOffsetOutOfRange},
		{"negative offset", -1, 1 << 20, 0, ErrOffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := l.Read(tt.offset, tt.maxBytes)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(res.Data) != tt.wantBytes {
				t.Fatalf("got %d bytes, want %d", len(res.Data), tt.wantBytes)
			}
			if err == nil && res.HighWatermark != 6 {
				t.Errorf("HighWatermark = %d, want 6", res.HighWatermark)
			}
			if tt.wantBytes > 0 {
				if recs := decode(t, res.Data); recs[0].off != tt.offset {
					t.Errorf("first record %d, want %d", recs[0].off, tt.offset)
				}
			}
		})
	}
}

func TestReadMidBatchOffset(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{}, nil)
	mustAppend(t, l, testBatch(10, 0, "a"))
	mustAppend(t, l, testBatch(10, 0, "b"))
	res, err := l.Read(15, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	recs := decode(t, res.Data)
	if recs[0].off != 10 || len(recs) != 10 {
		t.Fatalf("Read(15) gave offsets %d.. (%d records), want the batch 10..19", recs[0].off, len(recs))
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{}, nil)
	b := testBatch(2, 0, "x")
	if _, err := l.Append(b[:len(b)-1], 0); err == nil {
		t.Error("Append of a truncated batch succeeded")
	}
	if _, err := l.Append(append(b, b...), 0); err == nil {
		t.Error("Append of two batches succeeded")
	}
	if _, err := l.Append(b[:10], 0); err == nil {
		t.Error("Append of 10 bytes succeeded")
	}
	if l.EndOffset() != 0 {
		t.Errorf("EndOffset = %d after rejected appends", l.EndOffset())
	}
}

func TestFsyncHighWatermarkWaitsForSync(t *testing.T) {
	fl := stoppedFlusher()
	l := openLog(t, t.TempDir(), Options{Fsync: true}, fl)
	res := mustAppend(t, l, testBatch(3, 0, "a"))
	if l.EndOffset() != 3 || l.HighWatermark() != 0 {
		t.Fatalf("after append: LEO %d HWM %d, want 3 and 0", l.EndOffset(), l.HighWatermark())
	}
	if r, err := l.Read(0, 1<<20); err != nil || len(r.Data) != 0 {
		t.Fatalf("Read below LEO but at HWM: %d bytes, %v; want empty", len(r.Data), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.WaitDurable(ctx, res.LastOffset); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDurable before sync = %v, want deadline exceeded", err)
	}
	changed := l.Changed()
	done := make(chan error, 1)
	go func() { done <- l.WaitDurable(context.Background(), res.LastOffset) }()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitDurable after sync: %v", err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed channel not closed when the HWM advanced")
	}
	if l.HighWatermark() != 3 {
		t.Fatalf("HWM after sync = %d, want 3", l.HighWatermark())
	}
}

func TestWaitDurableWithFlusher(t *testing.T) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	l := openLog(t, t.TempDir(), Options{Fsync: true}, fl)
	for i := range 20 {
		res := mustAppend(t, l, testBatch(2, int64(i), "a"))
		if err := l.WaitDurable(waitCtx(t, 5*time.Second), res.LastOffset); err != nil {
			t.Fatalf("WaitDurable: %v", err)
		}
		if hwm := l.HighWatermark(); hwm <= res.LastOffset {
			t.Fatalf("HWM %d not past %d after WaitDurable", hwm, res.LastOffset)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWaitDurableClosed(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{Fsync: true}, stoppedFlusher())
	res := mustAppend(t, l, testBatch(1, 0, "a"))
	done := make(chan error, 1)
	go func() { done <- l.WaitDurable(context.Background(), res.LastOffset+5) }()
	time.Sleep(5 * time.Millisecond)
	l.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitDurable on close = %v, want ErrClosed", err)
	}
	if _, err := l.Append(testBatch(1, 0, "b"), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Read(0, 100); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNoFsyncBackgroundFlush(t *testing.T) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	l := openLog(t, t.TempDir(), Options{FlushInterval: 5 * time.Millisecond}, fl)
	mustAppend(t, l, testBatch(1, 0, "a"))
	if l.HighWatermark() != 1 {
		t.Fatalf("HWM = %d, want 1 at once without fsync", l.HighWatermark())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.RLock()
		flushed := l.flushed.next
		l.mu.RUnlock()
		if flushed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background flush never ran")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSegmentMsRoll(t *testing.T) {
	now := time.Unix(1000, 0)
	l := openLog(t, t.TempDir(), Options{SegmentMs: 1000, Now: func() time.Time { return now }}, nil)
	mustAppend(t, l, testBatch(1, 0, "a"))
	now = now.Add(999 * time.Millisecond)
	mustAppend(t, l, testBatch(1, 0, "b"))
	if n := len(l.Segments()); n != 1 {
		t.Fatalf("%d segments before SegmentMs passed, want 1", n)
	}
	now = now.Add(time.Millisecond)
	mustAppend(t, l, testBatch(1, 0, "c"))
	segs := l.Segments()
	if len(segs) != 2 || segs[1].BaseOffset != 2 || !segs[1].Created.Equal(now) {
		t.Fatalf("segments %+v, want a second one at offset 2 created now", segs)
	}
}

// TestSegmentJitterRoll: with segment.jitter.ms each segment rolls at a
// random age in (SegmentMs - jitter, SegmentMs], drawn once per segment.
func TestSegmentJitterRoll(t *testing.T) {
	const logs = 40
	rolledBy := map[time.Duration]int{} // age at which each log's first segment rolled
	for range logs {
		now := time.Unix(1000, 0)
		l := openLog(t, t.TempDir(), Options{SegmentMs: 1000, SegmentJitterMs: 800, Now: func() time.Time { return now }}, nil)
		mustAppend(t, l, testBatch(1, 0, "a"))
		// Below SegmentMs - jitter nothing rolls.
		now = now.Add(199 * time.Millisecond)
		mustAppend(t, l, testBatch(1, 0, "b"))
		if n := len(l.Segments()); n != 1 {
			t.Fatalf("rolled at 199 ms with at most 800 ms of jitter on 1000 ms")
		}
		age := 199 * time.Millisecond
		for len(l.Segments()) == 1 {
			if age >= time.Second {
				t.Fatalf("no roll at SegmentMs")
			}
			now = now.Add(100 * time.Millisecond)
			age += 100 * time.Millisecond
			mustAppend(t, l, testBatch(1, 0, "c"))
		}
		rolledBy[age]++
		l.Close()
	}
	// Rolls happen at ages 299..1099 ms (100 ms steps); without jitter all at
	// 1099. A uniform jitter spreads 40 logs over them (all in fewer than three
	// steps has a probability far below 1e-9).
	if len(rolledBy) < 3 {
		t.Fatalf("rolls at %v: want them spread by the jitter", rolledBy)
	}
}

func TestLeaderEpochs(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{}, nil)
	if l.LeaderEpoch() != -1 {
		t.Fatalf("LeaderEpoch of empty log = %d", l.LeaderEpoch())
	}
	for _, a := range []struct {
		epoch int32
		n     int
	}{{0, 3}, {0, 2}, {2, 4}, {5, 1}, {3, 1}} { // epoch 3 after 5 is ignored
		if _, err := l.Append(testBatch(a.n, 0, "e"), a.epoch); err != nil {
			t.Fatal(err)
		}
	}
	// epochs: 0@0, 2@5, 5@9; LEO 11
	check := func(l *Log) {
		t.Helper()
		if l.LeaderEpoch() != 5 {
			t.Errorf("LeaderEpoch = %d, want 5", l.LeaderEpoch())
		}
		for _, c := range []struct {
			req       int32
			wantEpoch int32
			wantEnd   int64
		}{{-1, -1, -1}, {0, 0, 5}, {1, 0, 5}, {2, 2, 9}, {4, 2, 9}, {5, 5, 11}, {6, -1, -1}} {
			e, end := l.EndOffsetForEpoch(c.req)
			if e != c.wantEpoch || end != c.wantEnd {
				t.Errorf("EndOffsetForEpoch(%d) = (%d, %d), want (%d, %d)", c.req, e, end, c.wantEpoch, c.wantEnd)
			}
		}
	}
	check(l)
	res, _ := l.Read(9, 1<<20)
	if h, _ := batch.ParseHeader(res.Data); h.PartitionLeaderEpoch != 5 {
		t.Errorf("stored batch epoch = %d, want 5", h.PartitionLeaderEpoch)
	}
	l.Close()
	check(openLog(t, dir, Options{}, nil))
}

func TestSegmentsInfo(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 1000}, nil)
	mustAppend(t, l, sizedBatch(600, 50))
	mustAppend(t, l, sizedBatch(600, 40))
	mustAppend(t, l, sizedBatch(100, 70))
	segs := l.Segments()
	if len(segs) != 2 {
		t.Fatalf("got %d segments, want 2", len(segs))
	}
	if segs[0].MaxTimestamp != 50 || segs[1].MaxTimestamp != 70 || segs[1].NextOffset != 3 {
		t.Fatalf("segments %+v", segs)
	}
}

func TestWriteFailureFailsLog(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{Fsync: true}, stoppedFlusher())
	mustAppend(t, l, testBatch(2, 0, "ok"))
	l.Sync()
	l.mu.Lock()
	seg := l.segs[len(l.segs)-1]
	ro, err := os.Open(seg.prefix + LogSuffix) // read-only: the next write fails
	if err != nil {
		t.Fatal(err)
	}
	seg.f.Close()
	seg.f = ro
	l.mu.Unlock()
	changed := l.Changed()
	if _, err := l.Append(testBatch(1, 0, "lost"), 0); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after write error = %v, want ErrFailed", err)
	}
	select {
	case <-changed:
	default:
		t.Error("waiters not woken when the log failed")
	}
	if err := l.WaitDurable(context.Background(), 5); !errors.Is(err, ErrFailed) {
		t.Errorf("WaitDurable on failed log = %v", err)
	}
	if _, err := l.Append(testBatch(1, 0, "lost"), 0); !errors.Is(err, ErrFailed) {
		t.Errorf("second Append = %v, want ErrFailed", err)
	}
	if r, err := l.Read(0, 1<<20); err != nil || len(decode(t, r.Data)) != 2 {
		t.Errorf("durable data unreadable after failure: %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrFailed) {
		t.Errorf("Close of failed log = %v, want ErrFailed", err)
	}
	l = openLog(t, dir, Options{}, nil)
	checkContiguous(t, readAllRecords(t, l), 0, 2)
}
