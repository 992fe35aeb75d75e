package storage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamd/streamd/core/batch"
)

// buildCrashedLog appends synced batches, then unsynced ones, and crashes.
// It returns the offsets written and the byte sizes of the unsynced batches.
func buildCrashedLog(t *testing.T, dir string, opts Options, synced, unsynced int) (leo int64, tail []int) {
	t.Helper()
	opts.CheckpointInterval = 1 // every Sync writes the recovery point
	l := openLog(t, dir, opts, nil)
	for i := range synced {
		leo = mustAppend(t, l, testBatch(3, int64(100+i), fmt.Sprintf("s%d", i))).LastOffset + 1
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	for i := range unsynced {
		b := testBatch(3, int64(500+i), fmt.Sprintf("u%d", i))
		tail = append(tail, len(b))
		leo = mustAppend(t, l, b).LastOffset + 1
	}
	crash(l)
	return leo, tail
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	logs := segmentFiles(t, dir, LogSuffix)
	return logs[len(logs)-1]
}

func TestRecoveryTornTail(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string, lastBatch int)
		lostOne bool // the last batch is lost
	}{
		{"truncated mid-batch", func(t *testing.T, path string, last int) {
			if err := os.Truncate(path, fileSize(t, path)-int64(last/2)); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"truncated inside the header", func(t *testing.T, path string, last int) {
			if err := os.Truncate(path, fileSize(t, path)-int64(last)+20); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"corrupt payload byte", func(t *testing.T, path string, last int) {
			flipByte(t, path, fileSize(t, path)-5)
		}, true},
		{"corrupt CRC field", func(t *testing.T, path string, last int) {
			flipByte(t, path, fileSize(t, path)-int64(last)+17)
		}, true},
		{"garbage appended", func(t *testing.T, path string, last int) {
			appendBytes(t, path, []byte("this is not a record batch at all, just noise"))
		}, false},
		{"zeros appended", func(t *testing.T, path string, last int) {
			appendBytes(t, path, make([]byte, 4096))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentBytes: 1 << 20}
			leo, tail := buildCrashedLog(t, dir, opts, 10, 4)
			tt.damage(t, lastSegment(t, dir), tail[len(tail)-1])

			l := openLog(t, dir, opts, nil)
			want := leo
			if tt.lostOne {
				want -= 3
			}
			if l.EndOffset() != want || l.HighWatermark() != want {
				t.Fatalf("after recovery LEO %d HWM %d, want %d", l.EndOffset(), l.HighWatermark(), want)
			}
			st := l.LastRecovery()
			if st.BytesTruncated == 0 {
				t.Errorf("BytesTruncated = 0, want the damaged bytes")
			}
			scanned := int64(0)
			for _, n := range tail {
				scanned += int64(n)
			}
			if st.BytesScanned > scanned+4096 {
				t.Errorf("scanned %d bytes, more than the unsynced tail (%d)", st.BytesScanned, scanned)
			}
			checkContiguous(t, readAllRecords(t, l), 0, want)
			res := mustAppend(t, l, testBatch(2, 900, "new"))
			if res.BaseOffset != want {
				t.Fatalf("append after recovery at %d, want %d", res.BaseOffset, want)
			}
			recs := readAllRecords(t, l)
			checkContiguous(t, recs, 0, want+2)
			if recs[len(recs)-1].value != "new-1" {
				t.Errorf("last record %q, want new-1", recs[len(recs)-1].value)
			}
			// A second recovery finds nothing to do.
			l.Close()
			l2 := openLog(t, dir, opts, nil)
			if st := l2.LastRecovery(); st.BytesScanned != 0 || st.BytesTruncated != 0 {
				t.Errorf("second reopen: %+v", st)
			}
			checkContiguous(t, readAllRecords(t, l2), 0, want+2)
		})
	}
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryScansOnlyTail(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024}
	l := openLog(t, dir, opts, nil)
	for i := range 400 {
		mustAppend(t, l, testBatch(4, int64(i), "x"))
	}
	total := l.Size()
	nsegs := len(l.Segments())
	if nsegs < 30 {
		t.Fatalf("only %d segments", nsegs)
	}
	l.Close()

	l = openLog(t, dir, opts, nil)
	if st := l.LastRecovery(); st.BytesScanned != 0 || st.SegmentsScanned != 0 {
		t.Fatalf("reopen after clean close scanned %+v of %d bytes", st, total)
	}
	// Crash with a few unsynced batches: only they are scanned.
	var tail int64
	for i := range 3 {
		b := testBatch(4, int64(1000+i), "tail")
		tail += int64(len(b))
		mustAppend(t, l, b)
	}
	leo := l.EndOffset()
	crash(l)
	l = openLog(t, dir, opts, nil)
	st := l.LastRecovery()
	if st.BytesScanned != tail || st.BytesTruncated != 0 {
		t.Fatalf("recovery after crash: %+v, want exactly the %d tail bytes scanned (log is %d bytes in %d segments)",
			st, tail, total, nsegs)
	}
	if l.EndOffset() != leo {
		t.Fatalf("LEO %d, want %d", l.EndOffset(), leo)
	}
	checkContiguous(t, readAllRecords(t, l), 0, leo)
}

func TestRecoveryWithoutCheckpointScansAll(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 2048}
	l := openLog(t, dir, opts, nil)
	for i := range 60 {
		mustAppend(t, l, testBatch(3, int64(i), "x"))
	}
	segs := l.Segments()
	l.Close()
	if err := os.Remove(filepath.Join(dir, RecoveryPointFile)); err != nil {
		t.Fatal(err)
	}
	// Corrupt the first batch of the third segment: it and everything
	// after it must go.
	third := segs[2]
	flipByte(t, segmentPrefix(dir, third.BaseOffset)+LogSuffix, 30)
	l = openLog(t, dir, opts, nil)
	if l.EndOffset() != third.BaseOffset {
		t.Fatalf("LEO %d, want %d (start of the corrupt segment)", l.EndOffset(), third.BaseOffset)
	}
	if n := len(segmentFiles(t, dir, LogSuffix)); n != 3 {
		t.Fatalf("%d segment files left, want 3 (the corrupt one emptied)", n)
	}
	st := l.LastRecovery()
	var dropped int64
	for _, s := range segs[2:] {
		dropped += s.Size
	}
	if st.BytesTruncated != dropped {
		t.Errorf("BytesTruncated %d, want %d", st.BytesTruncated, dropped)
	}
	checkContiguous(t, readAllRecords(t, l), 0, third.BaseOffset)
	if res := mustAppend(t, l, testBatch(1, 0, "y")); res.BaseOffset != third.BaseOffset {
		t.Fatalf("append at %d, want %d", res.BaseOffset, third.BaseOffset)
	}
}

func TestRecoveryEmptyAndGarbage(t *testing.T) {
	t.Run("empty dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new", "partition-0")
		l := openLog(t, dir, Options{}, nil)
		if l.EndOffset() != 0 || l.StartOffset() != 0 || l.HighWatermark() != 0 {
			t.Fatalf("offsets %d %d %d", l.StartOffset(), l.HighWatermark(), l.EndOffset())
		}
		if r, err := l.Read(0, 100); err != nil || len(r.Data) != 0 {
			t.Fatalf("Read(0) on empty log: %d bytes, %v", len(r.Data), err)
		}
		if off, ts := l.MaxTimestamp(); off != -1 || ts != -1 {
			t.Fatalf("MaxTimestamp of empty log = %d, %d", off, ts)
		}
	})
	t.Run("segment with no valid batch", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentPrefix(dir, 0)+LogSuffix, bytes.Repeat([]byte{0xab}, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
		l := openLog(t, dir, Options{}, nil)
		if l.EndOffset() != 0 || l.Size() != 0 || l.LastRecovery().BytesTruncated != 1000 {
			t.Fatalf("LEO %d size %d stats %+v", l.EndOffset(), l.Size(), l.LastRecovery())
		}
		mustAppend(t, l, testBatch(2, 0, "a"))
		checkContiguous(t, readAllRecords(t, l), 0, 2)
	})
	t.Run("second segment garbage", func(t *testing.T) {
		dir := t.TempDir()
		l := openLog(t, dir, Options{}, nil)
		mustAppend(t, l, testBatch(5, 0, "a"))
		l.Close()
		os.Remove(filepath.Join(dir, RecoveryPointFile))
		os.WriteFile(segmentPrefix(dir, 5)+LogSuffix, []byte("junk"), 0o644)
		l = openLog(t, dir, Options{}, nil)
		if l.EndOffset() != 5 {
			t.Fatalf("LEO %d, want 5", l.EndOffset())
		}
		mustAppend(t, l, testBatch(1, 0, "b"))
		checkContiguous(t, readAllRecords(t, l), 0, 6)
	})
}

func TestRecoveryDeletesLeftovers(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{}, nil)
	mustAppend(t, l, testBatch(2, 0, "a"))
	l.Close()
	leftovers := []string{
		RecoveryPointFile + TempSuffix,
		"00000000000000000000.log.cleaned",
		"00000000000000000000.log.swap",
		"00000000000000000099.index",     // no .log
		"00000000000000000099.timeindex", // no .log
		"00000000000000000007.log.deleted",
	}
	for _, name := range leftovers {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "keep-me"), []byte("x"), 0o644)
	l = openLog(t, dir, Options{}, nil)
	for _, name := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "keep-me")); err != nil {
		t.Errorf("unrelated file removed: %v", err)
	}
	checkContiguous(t, readAllRecords(t, l), 0, 2)
}

// TestIndexRebuild damages index files of a sealed and of the active
// segment; reads and timestamp lookups must stay right and the files must
// come back identical.
func TestIndexRebuild(t *testing.T) {
	damages := map[string]func(path string) error{
		"deleted":   os.Remove,
		"garbage":   func(p string) error { return os.WriteFile(p, bytes.Repeat([]byte{0xff}, 64), 0o644) },
		"truncated": func(p string) error { return os.Truncate(p, 5) },
		"zeroed":    func(p string) error { return os.WriteFile(p, make([]byte, 48), 0o644) },
	}
	for name, damage := range damages {
		for _, which := range []string{"sealed", "active"} {
			for _, suffix := range []string{IndexSuffix, TimeIndexSuffix} {
				t.Run(name+"/"+which+suffix, func(t *testing.T) {
					testIndexRebuild(t, damage, which, suffix)
				})
			}
		}
	}
}

func testIndexRebuild(t *testing.T, damage func(string) error, which, suffix string) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 4 << 10, IndexIntervalBytes: 512}
	l := openLog(t, dir, opts, nil)
	for i := range 120 {
		ts := int64(1000 + i*10)
		if i%7 == 3 {
			ts -= 200 // out of order timestamps
		}
		mustAppend(t, l, testBatch(3, ts, "r"))
	}
	want := readAllRecords(t, l)
	segs := l.Segments()
	l.Close()

	seg := segs[0]
	if which == "active" {
		seg = segs[len(segs)-1]
	}
	path := segmentPrefix(dir, seg.BaseOffset) + suffix
	orig, err := os.ReadFile(path)
	if err != nil || len(orig) == 0 {
		t.Fatalf("index %s: %d bytes, %v", path, len(orig), err)
	}
	if err := damage(path); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, dir, opts, nil)
	got := readAllRecords(t, l)
	if len(got) != len(want) {
		t.Fatalf("read %d records after damage, want %d", len(got), len(want))
	}
	checkTimestampQueries(t, l, want)
	if which == "active" && l.LastRecovery().IndexesRebuilt != 1 {
		t.Errorf("IndexesRebuilt = %d, want 1", l.LastRecovery().IndexesRebuilt)
	}
	l.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, orig) {
		t.Errorf("rebuilt %s differs: %d bytes, original %d", filepath.Base(path), len(after), len(orig))
	}
}

// checkTimestampQueries compares OffsetForTimestamp and MaxTimestamp with a
// brute-force answer over recs.
func checkTimestampQueries(t *testing.T, l *Log, recs []record) {
	t.Helper()
	maxOff, maxTS := int64(-1), int64(-1)
	for _, r := range recs {
		if r.ts > maxTS {
			maxOff, maxTS = r.off, r.ts
		}
	}
	if off, ts := l.MaxTimestamp(); off != maxOff || ts != maxTS {
		t.Errorf("MaxTimestamp = (%d, %d), want (%d, %d)", off, ts, maxOff, maxTS)
	}
	for q := int64(0); q <= maxTS+2; q += 7 {
		wantOff, wantTS, wantFound := int64(-1), int64(-1), false
		for _, r := range recs {
			if r.ts >= q {
				wantOff, wantTS, wantFound = r.off, r.ts, true
				break
			}
		}
		off, ts, found, err := l.OffsetForTimestamp(q)
		if err != nil || off != wantOff || ts != wantTS || found != wantFound {
			t.Fatalf("OffsetForTimestamp(%d) = (%d, %d, %v, %v), want (%d, %d, %v)", q, off, ts, found, err, wantOff, wantTS, wantFound)
		}
	}
}

var _ = batch.HeaderLen
