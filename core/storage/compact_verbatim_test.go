package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamd/streamd/core/batch"
)

// keyedBatch builds a batch of one record per key, values "<tag>-<key>".
func keyedBatch(c batch.Codec, ts int64, tag string, keys ...string) []byte {
	recs := make([]batch.Record, len(keys))
	for i, k := range keys {
		recs[i] = batch.Record{Key: []byte(k), Value: []byte(tag + "-" + k), TimestampDelta: int64(i),
			Headers: []batch.RecordHeader{{Key: "h", Value: []byte(k)}}}
	}
	return batch.Build(batch.BuildOptions{ProducerID: 9, ProducerEpoch: 1, BaseSequence: 3, Codec: c}, recs, ts)
}

// appendRolled appends b as the first batch of a new segment.
func appendRolled(t *testing.T, l *Log, b []byte) AppendResult {
	t.Helper()
	l.SetOptions(Options{SegmentBytes: 1})
	res := mustAppend(t, l, b)
	l.SetOptions(Options{SegmentBytes: 1 << 30})
	return res
}

// segmentBatches returns the batches of segment file base, by base offset.
func segmentBatches(t *testing.T, dir string, base int64) map[int64][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d%s", base, LogSuffix)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]byte{}
	if _, err := batch.Scan(data, func(pos int, h batch.Header) bool {
		out[h.BaseOffset] = data[pos : pos+h.TotalSize()]
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCompactKeepsBatchesVerbatim: a batch whose records all survive is
// copied byte for byte; one that loses records is rebuilt with its own codec,
// header fields and the survivors' records unchanged (headers included); a
// segment where nothing changes is not rewritten at all.
func TestCompactKeepsBatchesVerbatim(t *testing.T) {
	for _, c := range []batch.Codec{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
		t.Run(c.String(), func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{SegmentBytes: 1 << 30}, nil)
			ts := time.Now().Add(-time.Hour).UnixMilli()
			// Segment A (offsets 0-2): keys never written again.
			segA := appendRolled(t, l, keyedBatch(c, ts, "a", "a1", "a2", "a3")).BaseOffset
			// Segment B: a batch that stays whole (3-4), one that loses a
			// record (5-7), one that loses all (8-9), a last batch that
			// loses all (10).
			segB := appendRolled(t, l, keyedBatch(c, ts, "b", "b1", "b2")).BaseOffset
			mustAppend(t, l, keyedBatch(c, ts, "b", "x1", "b3", "x2"))
			mustAppend(t, l, keyedBatch(c, ts, "b", "x3", "x4"))
			mustAppend(t, l, keyedBatch(c, ts, "b", "x5"))
			// Segment C: the updates, then the active segment.
			appendRolled(t, l, keyedBatch(c, ts, "c", "x1", "x2", "x3", "x4", "x5"))
			appendRolled(t, l, keyedBatch(c, ts, "d", "d1"))
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			beforeA := segmentBatches(t, dir, segA)
			beforeB := segmentBatches(t, dir, segB)
			stA, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%020d%s", segA, LogSuffix)))
			if err != nil {
				t.Fatal(err)
			}
			var cleaned []int64
			compactHook = func(step string, base int64) error {
				if step == "cleaned-written" {
					cleaned = append(cleaned, base)
				}
				return nil
			}
			defer func() { compactHook = nil }()
			res, err := l.Compact(CompactOptions{DeleteRetentionMs: -1})
			if err != nil || !res.Cleaned {
				t.Fatalf("%+v, %v", res, err)
			}
			if fmt.Sprint(cleaned) != fmt.Sprint([]int64{segB}) || res.SegmentsCleaned != 1 {
				t.Fatalf("segments rewritten %v (%d), want only %d", cleaned, res.SegmentsCleaned, segB)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*"+cleanedSuffix)); len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
			stA2, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%020d%s", segA, LogSuffix)))
			if err != nil || !os.SameFile(stA, stA2) {
				t.Fatalf("unchanged segment %d was replaced (%v)", segA, err)
			}
			if fmt.Sprint(segmentBatches(t, dir, segA)) != fmt.Sprint(beforeA) {
				t.Fatal("unchanged segment's bytes changed")
			}

			after := segmentBatches(t, dir, segB)
			if !bytes.Equal(after[3], beforeB[3]) {
				t.Fatal("batch 3-4, all records kept, was not copied verbatim")
			}
			if _, ok := after[8]; ok {
				t.Fatal("batch 8-9, no record kept, is still there")
			}
			if len(after) != 3 {
				t.Fatalf("%d batches in segment %d, want 3", len(after), segB)
			}
			// 5-7 lost x1 and x2: same codec and header fields, b3 unchanged.
			oh, _, _ := batch.Records(beforeB[5])
			nh, recs, err := batch.Records(after[5])
			if err != nil || !batch.VerifyCRC(after[5]) {
				t.Fatalf("rewritten batch: %v", err)
			}
			wantH := oh
			wantH.NumRecords, wantH.Length, wantH.CRC = 1, nh.Length, nh.CRC
			if nh != wantH || nh.Codec() != c {
				t.Fatalf("rewritten header %+v, want %+v", nh, wantH)
			}
			if len(recs) != 1 || string(recs[0].Key) != "b3" || string(recs[0].Value) != "b-b3" || recs[0].OffsetDelta != 1 ||
				nh.RecordTimestamp(recs[0]) != ts+1 || len(recs[0].Headers) != 1 || string(recs[0].Headers[0].Value) != "b3" {
				t.Fatalf("rewritten batch holds %+v", recs)
			}
			// The last batch (10) lost its only record: empty, offsets kept.
			eh, erecs, err := batch.Records(after[10])
			if err != nil || len(erecs) != 0 || eh.LastOffset() != 10 || eh.Codec() != batch.CodecNone {
				t.Fatalf("last batch: %+v %v %v", eh, erecs, err)
			}
			// Reads see the compacted log; a second pass changes nothing.
			var keys []string
			for _, r := range readCompacted(t, l) {
				keys = append(keys, r.key)
			}
			if got := fmt.Sprint(keys); got != "[a1 a2 a3 b1 b2 b3 x1 x2 x3 x4 x5 d1]" {
				t.Fatalf("read %s", got)
			}
			cleaned = nil
			if res, err := l.Compact(CompactOptions{DeleteRetentionMs: -1, MinCleanableDirtyRatio: 0}); err != nil || len(cleaned) != 0 {
				t.Fatalf("second pass: %+v %v, rewrote %v", res, err, cleaned)
			}
		})
	}
}

// TestCompactDutyCycle: a pass limited to a fifth of the wall time spends
// most of its time paused, and still compacts correctly.
func TestCompactDutyCycle(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 256 << 10}, nil)
	written := compactWorkload(t, l, rand.New(rand.NewPCG(21, 1)), 20000, 50)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	res, err := l.Compact(CompactOptions{DeleteRetentionMs: -1, DutyCycle: 0.2})
	if err != nil || !res.Cleaned {
		t.Fatalf("%+v, %v", res, err)
	}
	if res.Paused < res.Elapsed/2 {
		t.Fatalf("pass paused %v of %v, want most of it at a duty cycle of 0.2", res.Paused, res.Elapsed)
	}
	checkCompacted(t, written, readCompacted(t, l), activeBase(l), false)
}

// TestSmallSegmentIndexesUsed: a sealed segment smaller than the index
// interval has an empty offset index (compaction makes many); reading it uses
// the index files as they are instead of rebuilding them every time.
func TestSmallSegmentIndexesUsed(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentBytes: 1 << 30}, nil)
	for i := range 3 {
		appendRolled(t, l, testBatch(2, int64(1000+i), "s"))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, filepath.Join(dir, fmt.Sprintf("%020d%s", 0, IndexSuffix))); got != 0 {
		t.Fatalf("index of a small segment has %d bytes, want 0", got)
	}
	l = openLog(t, dir, Options{SegmentBytes: 1 << 30}, nil)
	if got := len(readCompacted(t, l)); got != 6 {
		t.Fatalf("read %d records, want 6", got)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.rebuilt || !s.diskReady {
			t.Fatalf("segment %d: index rebuilt %v, on-disk index used %v", s.base, s.rebuilt, s.diskReady)
		}
	}
}

// TestCompactSegmentDeletedMeanwhile: retention or DeleteRecords (compact,delete
// topics) may delete the segments a pass is rewriting; the pass drops its copies
// of those and goes on.
func TestCompactSegmentDeletedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentBytes: 1024}, nil)
	written := compactWorkload(t, l, rand.New(rand.NewPCG(5, 6)), 200, 6)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	segs := l.Segments()
	cut := segs[3].BaseOffset // the first three segments go while the first is being cleaned
	deleted := false
	compactHook = func(step string, base int64) error {
		if step == "cleaned-written" && !deleted {
			deleted = true
			if _, err := l.DeleteRecords(cut); err != nil {
				t.Errorf("DeleteRecords: %v", err)
			}
		}
		return nil
	}
	defer func() { compactHook = nil }()
	res, err := l.Compact(CompactOptions{DeleteRetentionMs: -1})
	if err != nil || !res.Cleaned || !deleted {
		t.Fatalf("%+v, %v (deleted meanwhile: %v)", res, err, deleted)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+cleanedSuffix)); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	if l.StartOffset() != cut {
		t.Fatalf("start offset %d, want %d", l.StartOffset(), cut)
	}
	for o := range written {
		if o < cut {
			delete(written, o)
		}
	}
	checkCompacted(t, written, readCompacted(t, l), activeBase(l), false)
}

// TestCompactIdleAfterRecoveryPoint: a recovery point left in a segment that
// has since been sealed (the partition went idle before the next checkpoint)
// does not keep the segment from being cleaned.
func TestCompactIdleAfterRecoveryPoint(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024, CheckpointInterval: time.Hour}
	l := openLog(t, dir, opts, nil)
	written := compactWorkload(t, l, rand.New(rand.NewPCG(7, 8)), 5, 3)
	if err := l.Close(); err != nil { // recovery point: inside the first segment
		t.Fatal(err)
	}
	l = openLog(t, dir, opts, nil)
	for o, w := range compactWorkload(t, l, rand.New(rand.NewPCG(9, 10)), 150, 3) {
		written[o] = w
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := len(l.Segments()); n < 5 {
		t.Fatalf("%d segments", n)
	}
	res, err := l.Compact(CompactOptions{DeleteRetentionMs: -1})
	if err != nil || !res.Cleaned || res.SegmentsCleaned == 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	checkCompacted(t, written, readCompacted(t, l), activeBase(l), false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, opts, nil)
	if l.LastRecovery().BytesTruncated != 0 {
		t.Fatalf("reopen: %+v", l.LastRecovery())
	}
	checkCompacted(t, written, readCompacted(t, l), activeBase(l), false)
}

// TestPreadAlignedPieces reads ranges of a file that span several
// cleanerReadPiece reads, start and end off the block grid and reach the end
// of the file, with O_DIRECT where the file system allows it: every byte comes
// back, and a range past the end is an error.
func TestPreadAlignedPieces(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	size := 3*cleanerReadPiece + 5000
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if d, derr := os.OpenFile(name, os.O_RDONLY|directFlag, 0); derr == nil {
		f.Close()
		f, err = d, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := alignedBuf(size + 2*dioAlign)
	for _, r := range []struct{ pos, n int64 }{
		{0, int64(size)}, {4097, 2*cleanerReadPiece + 10}, {cleanerReadPiece - 1, 2},
		{int64(size) - 1, 1}, {5, int64(size) - 5}, {8192, cleanerReadPiece},
	} {
		got, err := preadAligned(f, buf, r.pos, r.n)
		if err != nil {
			t.Fatalf("pos %d n %d: %v", r.pos, r.n, err)
		}
		if !bytes.Equal(got, data[r.pos:r.pos+r.n]) {
			t.Fatalf("pos %d n %d: wrong bytes", r.pos, r.n)
		}
	}
	if _, err := preadAligned(f, buf, int64(size)-10, 11); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read past the end: %v, want io.ErrUnexpectedEOF", err)
	}
}
