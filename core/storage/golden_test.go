package storage

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/recovery/*.golden")

// recoveryCases build a partition directory, damage it, and let the golden
// file record what Open makes of it.
var recoveryCases = []struct {
	name  string
	build func(t *testing.T, dir string)
}{
	{"clean-close", func(t *testing.T, dir string) {
		l := fixtureLog(t, dir, 30, 0)
		l.Close()
	}},
	{"crash-unsynced-tail", func(t *testing.T, dir string) {
		crash(fixtureLog(t, dir, 20, 6))
	}},
	{"crash-torn-tail", func(t *testing.T, dir string) {
		crash(fixtureLog(t, dir, 20, 6))
		p := lastSegment(t, dir)
		os.Truncate(p, fileSize(t, p)-40)
	}},
	{"crash-corrupt-crc-then-garbage", func(t *testing.T, dir string) {
		crash(fixtureLog(t, dir, 20, 6))
		p := lastSegment(t, dir)
		flipByte(t, p, fileSize(t, p)-70)
		appendBytes(t, p, []byte("garbage after the corrupt batch"))
	}},
	{"no-checkpoint-corrupt-middle-segment", func(t *testing.T, dir string) {
		fixtureLog(t, dir, 30, 0).Close()
		os.Remove(filepath.Join(dir, RecoveryPointFile))
		flipByte(t, segmentPrefix(dir, 30)+LogSuffix, 150)
	}},
	{"leftovers-and-damaged-indexes", func(t *testing.T, dir string) {
		fixtureLog(t, dir, 30, 0).Close()
		os.WriteFile(filepath.Join(dir, LogStartOffsetFile+TempSuffix), []byte("0\n5\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "00000000000000000999.index"), []byte("orphan"), 0o644)
		os.WriteFile(filepath.Join(dir, "00000000000000000000.log.cleaned"), []byte("x"), 0o644)
		os.Remove(lastSegment(t, dir)[:len(lastSegment(t, dir))-len(LogSuffix)] + IndexSuffix)
		os.WriteFile(segmentPrefix(dir, 0)+TimeIndexSuffix, []byte("bad"), 0o644)
	}},
	{"start-offset-beyond-end", func(t *testing.T, dir string) {
		fixtureLog(t, dir, 10, 0).Close()
		writeFileAtomic(dir, LogStartOffsetFile, formatStartOffset(500))
	}},
}

// fixtureLog writes synced+unsynced batches of 3 records with fixed
// timestamps into 1 KiB segments; the recovery point is at the synced end.
func fixtureLog(t *testing.T, dir string, synced, unsynced int) *Log {
	opts := Options{SegmentBytes: 1024, IndexIntervalBytes: 256, CheckpointInterval: 1}
	l, err := Open(dir, opts, nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	for i := range synced + unsynced {
		if i == synced {
			l.Sync()
		}
		if _, err := l.Append(testBatch(3, int64(10_000+i*10), fmt.Sprintf("f%d", i)), int32(i/10)); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestRecoveryGolden(t *testing.T) {
	for _, tc := range recoveryCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.build(t, dir)
			l := openLog(t, dir, Options{SegmentBytes: 1024, IndexIntervalBytes: 256}, nil)
			var out strings.Builder
			fmt.Fprintf(&out, "after recovery:\n%s", describeLog(t, l))
			// The log must be usable: read it all and append.
			checkContiguous(t, readAllRecords(t, l), l.StartOffset(), l.HighWatermark())
			mustAppend(t, l, testBatch(2, 99_999, "new"))
			l.Close()
			fmt.Fprintf(&out, "\nafter one append and Close:\n%s", describeDir(t, dir))
			checkGolden(t, filepath.Join("testdata", "recovery", tc.name+".golden"), out.String())
		})
	}
}

func describeLog(t *testing.T, l *Log) string {
	var b strings.Builder
	st := l.LastRecovery()
	fmt.Fprintf(&b, "offsets: start=%d hwm=%d leo=%d epoch=%d size=%d\n",
		l.StartOffset(), l.HighWatermark(), l.EndOffset(), l.LeaderEpoch(), l.Size())
	fmt.Fprintf(&b, "recovery: scanned=%d segments_scanned=%d truncated=%d indexes_rebuilt=%d\n",
		st.BytesScanned, st.SegmentsScanned, st.BytesTruncated, st.IndexesRebuilt)
	for _, s := range l.Segments() {
		fmt.Fprintf(&b, "segment %d..%d size=%d max_ts=%d\n", s.BaseOffset, s.NextOffset, s.Size, s.MaxTimestamp)
	}
	off, ts := l.MaxTimestamp()
	fmt.Fprintf(&b, "max timestamp: offset=%d ts=%d\n", off, ts)
	return b.String()
}

func describeDir(t *testing.T, dir string) string {
	var b strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, _ := e.Info()
		fmt.Fprintf(&b, "file %s %d", e.Name(), info.Size())
		if !strings.Contains(e.Name(), ".") { // checkpoint: show its content
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			// The recovery point's padding (spaces before its last
			// newline) is shown as its length.
			text := strings.TrimRight(strings.TrimSuffix(string(data), "\n"), " ")
			if pad := len(data) - len(text) - 1; pad > 0 {
				fmt.Fprintf(&b, " %q + %d spaces + \"\\n\"", text, pad)
			} else {
				fmt.Fprintf(&b, " %q", data)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
