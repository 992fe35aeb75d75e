package storage

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/core/batch"
)

// kv is one written or read record of a compaction test.
type kv struct {
	off        int64
	key, value string
	tomb       bool
}

// compactWorkload appends random keyed batches (tombstones included) over
// random codecs and returns what was written by offset. Timestamps are an
// hour ago, so no lag or delete horizon protects them unless asked.
func compactWorkload(t testing.TB, l *Log, rng *rand.Rand, batches, keys int) map[int64]kv {
	t.Helper()
	codecs := []batch.Codec{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd}
	written := map[int64]kv{}
	ts := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < batches; i++ {
		n := 1 + rng.IntN(5)
		recs := make([]batch.Record, n)
		for j := range recs {
			k := fmt.Sprintf("key-%d", rng.IntN(keys))
			recs[j] = batch.Record{Key: []byte(k), TimestampDelta: int64(j)}
			if rng.IntN(6) != 0 {
				recs[j].Value = []byte(fmt.Sprintf("v-%d-%d-%s", i, j, k))
			}
		}
		c := codecs[rng.IntN(len(codecs))]
		b := batch.Build(batch.BuildOptions{ProducerID: -1, Codec: c}, recs, ts+int64(i))
		res := mustAppend(t, l, b)
		for j, r := range recs {
			written[res.BaseOffset+int64(j)] = kv{off: res.BaseOffset + int64(j), key: string(r.Key), value: string(r.Value), tomb: r.Value == nil}
		}
	}
	return written
}

// readCompacted reads the whole log, following batch offsets (compacted
// batches may be empty), and checks CRCs and strictly increasing offsets.
func readCompacted(t testing.TB, l *Log) []kv {
	t.Helper()
	out, err := readCompactedTo(l, l.HighWatermark())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readCompactedTo reads the records below to.
func readCompactedTo(l *Log, to int64) ([]kv, error) {
	var out []kv
	off, prev := l.StartOffset(), int64(-1)
	for off < to {
		res, err := l.Read(off, 64<<10)
		if err != nil {
			return nil, fmt.Errorf("Read(%d): %v", off, err)
		}
		if len(res.Data) == 0 {
			return nil, fmt.Errorf("Read(%d): no data below high watermark %d", off, res.HighWatermark)
		}
		for pos := 0; pos < len(res.Data); {
			h, recs, err := batch.Records(res.Data[pos:])
			if err != nil || !batch.VerifyCRC(res.Data[pos:]) {
				return nil, fmt.Errorf("batch at offset %d: err %v or bad CRC", off, err)
			}
			for _, r := range recs {
				o := h.BaseOffset + int64(r.OffsetDelta)
				if o < off || o >= to {
					continue
				}
				if o <= prev || o > h.LastOffset() {
					return nil, fmt.Errorf("offset %d after %d (batch %d..%d)", o, prev, h.BaseOffset, h.LastOffset())
				}
				prev = o
				out = append(out, kv{off: o, key: string(r.Key), value: string(r.Value), tomb: r.Value == nil})
			}
			off = max(off, h.NextOffset())
			pos += h.TotalSize()
		}
	}
	return out, nil
}

// checkCompacted checks got against written: an in-order subsequence of
// identical records that holds every key's latest record (tombstones too,
// unless tombsGone), where offsets below cleanedTo hold each key at most once
// and no tombstone when tombsGone, and a key deleted by an expired tombstone
// has no record left.
func checkCompacted(t testing.TB, written map[int64]kv, got []kv, cleanedTo int64, tombsGone bool) {
	t.Helper()
	if err := checkCompactedErr(written, got, cleanedTo, tombsGone); err != nil {
		t.Fatal(err)
	}
}

func latestByKey(written map[int64]kv) map[string]kv {
	latest := map[string]kv{}
	for _, w := range written {
		if cur, ok := latest[w.key]; !ok || w.off > cur.off {
			latest[w.key] = w
		}
	}
	return latest
}

func checkCompactedErr(written map[int64]kv, got []kv, cleanedTo int64, tombsGone bool) error {
	latest := map[string]kv{}
	for _, w := range written {
		if cur, ok := latest[w.key]; !ok || w.off > cur.off {
			latest[w.key] = w
		}
	}
	seen := map[string]int{}
	have := map[int64]bool{}
	for _, g := range got {
		w, ok := written[g.off]
		if !ok || w != g {
			return fmt.Errorf("read %+v, wrote %+v", g, w)
		}
		have[g.off] = true
		if g.off < cleanedTo {
			if seen[g.key]++; seen[g.key] > 1 {
				return fmt.Errorf("key %q twice in the cleaned range (offset %d)", g.key, g.off)
			}
			if tombsGone && g.tomb {
				return fmt.Errorf("tombstone at %d survived delete retention 0", g.off)
			}
		}
	}
	for k, w := range latest {
		if w.tomb && tombsGone && w.off < cleanedTo {
			// A deleted key: its tombstone expired, so nothing of it is left.
			if seen[k] > 0 {
				return fmt.Errorf("key %q, deleted by the expired tombstone at %d, still has a record", k, w.off)
			}
			continue
		}
		if !have[w.off] {
			return fmt.Errorf("latest record of %q (offset %d) lost", k, w.off)
		}
	}
	return nil
}

// activeBase returns the base of the active segment.
func activeBase(l *Log) int64 {
	segs := l.Segments()
	return segs[len(segs)-1].BaseOffset
}

// TestCompactProperty, for page-cache logs and for direct logs (whose
// cleaner reads and writes with O_DIRECT: a cleaned file left padded would
// show as a truncation in the full scan at reopen).
func TestCompactProperty(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		for _, tombsGone := range []bool{false, true} {
			direct := seed%2 == 0
			t.Run(fmt.Sprintf("seed%d/tombsGone=%v/direct=%v", seed, tombsGone, direct), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				dir := t.TempDir()
				opts := Options{SegmentBytes: 1024 + int64(rng.IntN(2048)), IndexIntervalBytes: 256, Fsync: direct, DirectIO: direct}
				l := openLog(t, dir, opts, nil)
				written := compactWorkload(t, l, rng, 150+rng.IntN(150), 3+rng.IntN(20))
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
				act := l.Segments()[len(l.Segments())-1]
				actBytes, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.log", act.BaseOffset)))
				if err != nil {
					t.Fatal(err)
				}
				before := l.Size()
				drm := int64(24 * time.Hour / time.Millisecond)
				if tombsGone {
					drm = 0
				}
				res, err := l.Compact(CompactOptions{DeleteRetentionMs: drm})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Cleaned || res.SegmentsCleaned == 0 || res.BytesAfter >= res.BytesBefore || l.Size() >= before {
					t.Fatalf("result %+v, size %d -> %d", res, before, l.Size())
				}
				if res.BytesBefore-res.BytesAfter != before-l.Size() {
					t.Fatalf("result %+v disagrees with size %d -> %d", res, before, l.Size())
				}
				cleanedTo := act.BaseOffset
				checkCompacted(t, written, readCompacted(t, l), cleanedTo, tombsGone)
				after, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.log", act.BaseOffset)))
				if string(after) != string(actBytes) || activeBase(l) != act.BaseOffset {
					t.Fatal("active segment changed")
				}
				// A second pass finds nothing dirty.
				if res, err := l.Compact(CompactOptions{DeleteRetentionMs: drm}); err != nil || res.Cleaned || res.DirtyRatio != 0 {
					t.Fatalf("second pass: %+v, %v", res, err)
				}
				// Reopen: recovery accepts the gaps; everything reads the same.
				want := readCompacted(t, l)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{RecoveryPointFile} { // scan every segment too
					os.Remove(filepath.Join(dir, name))
				}
				l2 := openLog(t, dir, opts, nil)
				if l2.LastRecovery().BytesTruncated != 0 {
					t.Fatalf("reopen truncated: %+v", l2.LastRecovery())
				}
				got := readCompacted(t, l2)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("after reopen read %d records, before %d", len(got), len(want))
				}
				// Appends continue after the compacted log.
				mustAppend(t, l2, testBatch(1, 1, "more"))
			})
		}
	}
}

func TestCompactRules(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1024}
	l := openLog(t, dir, opts, nil)
	written := compactWorkload(t, l, rand.New(rand.NewPCG(3, 3)), 200, 5)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// Everything is an hour old: a two-hour lag keeps every segment.
	if res, err := l.Compact(CompactOptions{MinCompactionLagMs: 2 * 3600 * 1000}); err != nil || res.Cleaned {
		t.Fatalf("lag: %+v, %v", res, err)
	}
	// A ratio above 1 is never reached, unless the max lag forces the pass.
	if res, err := l.Compact(CompactOptions{MinCleanableDirtyRatio: 1.5}); err != nil || res.Cleaned || res.DirtyRatio != 1 {
		t.Fatalf("ratio: %+v, %v", res, err)
	}
	res, err := l.Compact(CompactOptions{MinCleanableDirtyRatio: 1.5, MaxCompactionLagMs: 60_000})
	if err != nil || !res.Cleaned {
		t.Fatalf("max lag: %+v, %v", res, err)
	}
	checkCompacted(t, written, readCompacted(t, l), activeBase(l), false)
	if ck, err := readCleanerCheckpoint(dir); err != nil || ck != activeBase(l) {
		t.Fatalf("cleaner checkpoint %d, %v; want %d", ck, err, activeBase(l))
	}

	// New writes make a dirty part; the throttle slows the pass down.
	more := compactWorkload(t, l, rand.New(rand.NewPCG(4, 4)), 100, 5)
	for o, w := range more {
		written[o] = w
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	res, err = l.Compact(CompactOptions{IOBytesPerSecond: 200 << 10})
	if err != nil || !res.Cleaned || res.DirtyRatio <= 0 || res.DirtyRatio >= 1 {
		t.Fatalf("second pass: %+v, %v", res, err)
	}
	if min := time.Duration(float64(res.BytesBefore) / (200 << 10) * float64(time.Second)); time.Since(t0) < min {
		t.Fatalf("throttled pass took %v, want >= %v", time.Since(t0), min)
	}
	checkCompacted(t, written, readCompacted(t, l), activeBase(l), false)

	// Stop abandons a pass.
	compactWorkload(t, l, rand.New(rand.NewPCG(5, 5)), 50, 5)
	l.Sync()
	stop := make(chan struct{})
	close(stop)
	if _, err := l.Compact(CompactOptions{Stop: stop}); err != ErrCompactStopped {
		t.Fatalf("stopped pass: %v", err)
	}
}

// copyDir copies the regular files of src to a new directory (a crash
// snapshot: everything the pass wrote so far was fsynced).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

func TestCompactCrashAtEachStep(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1500, IndexIntervalBytes: 128}
	l := openLog(t, dir, opts, nil)
	written := compactWorkload(t, l, rand.New(rand.NewPCG(9, 9)), 200, 6)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	type snap struct{ step, dir string }
	var snaps []snap
	compactHook = func(step string, base int64) error {
		snaps = append(snaps, snap{fmt.Sprintf("%s@%d", step, base), copyDir(t, dir)})
		return nil
	}
	defer func() { compactHook = nil }()
	if res, err := l.Compact(CompactOptions{DeleteRetentionMs: 0}); err != nil || res.SegmentsCleaned < 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	compactHook = nil
	latest := latestByKey(written)
	for _, s := range snaps {
		l2, err := Open(s.dir, opts, nil, quietLogger())
		if err != nil {
			t.Fatalf("%s: Open: %v", s.step, err)
		}
		if l2.LastRecovery().BytesTruncated != 0 {
			t.Fatalf("%s: truncated %+v", s.step, l2.LastRecovery())
		}
		// Old and new segments mix. Every record read is one written, every
		// key's latest value is there, and a key whose tombstone is gone
		// has no older record left (no resurrection).
		got := readCompacted(t, l2)
		present := map[string]bool{}
		for _, g := range got {
			if w := written[g.off]; w != g {
				t.Fatalf("%s: read %+v, wrote %+v", s.step, g, w)
			}
			present[g.key] = true
		}
		have := map[int64]bool{}
		for _, g := range got {
			have[g.off] = true
		}
		for k, w := range latest {
			if !have[w.off] && (!w.tomb || present[k]) {
				t.Fatalf("%s: latest record of %q (offset %d, tombstone %v) lost", s.step, k, w.off, w.tomb)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(s.dir, "*.swap")); len(left) > 0 {
			t.Fatalf("%s: leftovers %v", s.step, left)
		}
		l2.Close()
	}
	if len(snaps) < 5*2 {
		t.Fatalf("only %d crash points", len(snaps))
	}
}

func TestCompactConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{SegmentBytes: 2048}, nil)
	written := compactWorkload(t, l, rand.New(rand.NewPCG(11, 1)), 300, 8)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	end := l.EndOffset()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := readCompactedTo(l, end)
				if err == nil {
					err = checkCompactedErr(written, got, 0, false)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // appends go on too
		defer wg.Done()
		for i := 0; i < 50; i++ {
			l.Append(testBatch(1, 1, "tail"), 0)
		}
	}()
	res, err := l.Compact(CompactOptions{DeleteRetentionMs: -1, IOBytesPerSecond: 2 << 20})
	close(done)
	wg.Wait()
	if err != nil || res.SegmentsCleaned == 0 {
		t.Fatalf("%+v, %v", res, err)
	}
}

// BenchmarkCompact times one Compact pass over 64 MiB of batches of 50
// records with keys drawn from 100,000:
//
//   - lz4-zeros: LZ4 batches of 200-byte zero values (compress very well:
//     many records per on-disk byte);
//   - none-random, snappy-random: 200-byte random values, uncompressed or
//     snappy (as kgo sends by default).
//
// MB/s is per on-disk byte of the cleanable range. allocs/op counts a whole
// pass.
func BenchmarkCompact(b *testing.B) {
	for _, tc := range []struct {
		name   string
		codec  batch.Codec
		random bool
	}{
		{"lz4-zeros", batch.CodecLZ4, false},
		{"none-random", batch.CodecNone, true},
		{"snappy-random", batch.CodecSnappy, true},
	} {
		b.Run(tc.name, func(b *testing.B) { benchmarkCompact(b, tc.codec, tc.random) })
	}
}

func benchmarkCompact(b *testing.B, codec batch.Codec, random bool) {
	const total = 64 << 20
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		l, err := Open(dir, Options{SegmentBytes: 8 << 20}, nil, quietLogger())
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for l.Size() < total {
			recs := make([]batch.Record, 50)
			for j := range recs {
				val := make([]byte, 200)
				if random {
					for k := 0; k < len(val); k += 8 {
						u := rng.Uint64()
						for m := 0; m < 8; m++ {
							val[k+m] = byte(u >> (8 * m))
						}
					}
				}
				recs[j] = batch.Record{Key: fmt.Appendf(nil, "key-%d", rng.IntN(100_000)), Value: val}
			}
			if _, err := l.Append(batch.Build(batch.BuildOptions{ProducerID: -1, Codec: codec}, recs, 1), 0); err != nil {
				b.Fatal(err)
			}
		}
		l.Sync()
		b.StartTimer()
		res, err := l.Compact(CompactOptions{})
		if err != nil || !res.Cleaned {
			b.Fatalf("%+v, %v", res, err)
		}
		b.SetBytes(res.BytesBefore)
		b.StopTimer()
		l.Close()
	}
}

// TestCompactDirectLongUnchangedPrefix: on a direct log the first batch that
// loses a record sits early in the cleaner's second read chunk, after more than
// a copy buffer of unchanged batches. Copying that prefix into the cleaned file
// must not overwrite the chunk the pass is still walking (it did once: the
// copy and the walk shared one direct-read buffer).
func TestCompactDirectLongUnchangedPrefix(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentBytes: 1_500_000, IndexIntervalBytes: 4096, Fsync: true, DirectIO: true}
	l := openLog(t, dir, opts, nil)
	if l.noDirect.Load() {
		t.Skipf("the file system of %s refuses O_DIRECT", dir)
	}
	ts := time.Now().Add(-time.Hour).UnixMilli()
	written := map[int64]kv{}
	add := func(key string, i int) {
		v := fmt.Sprintf("%s-%d-%s", key, i, strings.Repeat("x", 10_000))
		b := batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Key: []byte(key), Value: []byte(v)}}, ts+int64(i))
		off := mustAppend(t, l, b).BaseOffset
		written[off] = kv{off: off, key: key, value: v}
	}
	// 10 KB batches: the cleaner's first 1 MiB chunk ends after batch ~104; the
	// record of batch 107 is superseded in the next segment.
	for i := range 160 {
		key := fmt.Sprintf("u%d", i)
		if i == 107 {
			key = "dup"
		}
		add(key, i)
	}
	add("dup", 1000)
	for i := range 150 { // seal the segment holding the newer "dup" too
		add(fmt.Sprintf("w%d", i), 2000+i)
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("%d segments, want the first two sealed", len(l.Segments()))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	res, err := l.Compact(CompactOptions{DeleteRetentionMs: int64(24 * time.Hour / time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Cleaned || res.SegmentsCleaned == 0 {
		t.Fatalf("nothing cleaned: %+v", res)
	}
	checkCompacted(t, written, readCompacted(t, l), activeBase(l), false)
}
