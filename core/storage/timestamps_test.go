package storage

import (
	"testing"

	"github.com/streamd/streamd/core/batch"
)

func TestTimestampQueries(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1500, IndexIntervalBytes: 200}
	l := openLog(t, dir, opts, nil)
	// Timestamps jump around across batches and segments, compressed and
	// LogAppendTime batches included.
	codecs := []batch.Codec{batch.CodecNone, batch.CodecGzip, batch.CodecZstd, batch.CodecLZ4, batch.CodecSnappy}
	for i := range 50 {
		ts := int64(1000 + (i*37)%200*5)
		b := testBatchCodec(1+i%4, ts, "t", codecs[i%len(codecs)])
		if i%9 == 4 {
			batch.SetLogAppendTime(b, ts+3)
		}
		mustAppend(t, l, b)
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("want several segments, got %d", len(l.Segments()))
	}
	recs := readAllRecords(t, l)
	checkTimestampQueries(t, l, recs)

	off, ts, found, err := l.OffsetForTimestamp(1 << 50)
	if err != nil || found || off != -1 || ts != -1 {
		t.Errorf("OffsetForTimestamp(future) = %d %d %v %v", off, ts, found, err)
	}

	// After DeleteRecords the answers only cover what is left.
	if _, err := l.DeleteRecords(recs[len(recs)/2].off); err != nil {
		t.Fatal(err)
	}
	checkTimestampQueries(t, l, recs[len(recs)/2:])
	l.Close()
	l = openLog(t, dir, opts, nil)
	checkTimestampQueries(t, l, recs[len(recs)/2:])
}

func TestTimestampQueriesBelowHWMOnly(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{Fsync: true}, stoppedFlusher())
	mustAppend(t, l, testBatch(2, 100, "a"))
	l.Sync()
	mustAppend(t, l, testBatch(2, 500, "b")) // not durable: invisible
	if off, ts := l.MaxTimestamp(); off != 1 || ts != 101 {
		t.Errorf("MaxTimestamp = %d, %d; want 1, 101", off, ts)
	}
	if _, _, found, _ := l.OffsetForTimestamp(200); found {
		t.Errorf("OffsetForTimestamp found a record above the HWM")
	}
	l.Sync()
	if off, ts := l.MaxTimestamp(); off != 3 || ts != 501 {
		t.Errorf("MaxTimestamp after sync = %d, %d; want 3, 501", off, ts)
	}
}
