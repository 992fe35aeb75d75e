package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/core/batch"
)

var directOpts = Options{Fsync: true, DirectIO: true, SegmentBytes: 96 << 10, IndexIntervalBytes: 1024}

// openDirectLog opens a direct log in a fresh directory, skipping the test
// where the file system refuses O_DIRECT (tmpfs).
func openDirectLog(t *testing.T, dir string, opts Options, fl *Flusher) *Log {
	t.Helper()
	l := openLog(t, dir, opts, fl)
	if l.noDirect.Load() {
		t.Skipf("the file system of %s refuses O_DIRECT", dir)
	}
	return l
}

// sendAll reads [from, hwm) of l the way Fetch does (ReadFile, then SendDirect
// or the file) and returns the bytes.
func sendAll(t *testing.T, l *Log, from int64) []byte {
	t.Helper()
	var out bytes.Buffer
	for off := from; off < l.HighWatermark(); {
		r, err := l.ReadFile(off, 50<<10)
		if err != nil {
			t.Fatalf("ReadFile(%d): %v", off, err)
		}
		if r.Len == 0 {
			t.Fatalf("ReadFile(%d): nothing below the high watermark %d", off, r.HighWatermark)
		}
		if r.Mem == nil {
			t.Fatalf("ReadFile(%d) of a direct log is not in memory", off)
		}
		start := out.Len()
		if err := sendMem(&out, r); err != nil {
			t.Fatalf("send(%d): %v", off, err)
		}
		r.Release()
		recs := decode(t, out.Bytes()[start:])
		off = recs[len(recs)-1].off + 1
	}
	return out.Bytes()
}

// TestDirectAppendReadAcrossRolls: batches of every size (so writes end
// anywhere in a block) appended with direct I/O, one sync each, read back
// with Read and with direct reads, before and after a reopen; sealed and
// closed segment files end exactly at their last batch.
func TestDirectAppendReadAcrossRolls(t *testing.T) {
	dir := t.TempDir()
	l := openDirectLog(t, dir, directOpts, nil) // no Flusher: every Append syncs
	rng := rand.New(rand.NewPCG(1, 2))
	var want []string
	var next int64
	for i := range 300 {
		n := 1 + rng.IntN(40)
		pad := rng.IntN(300)
		recs := make([]string, n)
		for j := range recs {
			recs[j] = fmt.Sprintf("b%d-%d-%s", i, j, bytes.Repeat([]byte{'a' + byte(j%26)}, pad))
		}
		want = append(want, recs...)
		res := mustAppend(t, l, testBatchValues(recs, int64(1000+i)))
		if res.BaseOffset != next {
			t.Fatalf("batch %d at offset %d, want %d", i, res.BaseOffset, next)
		}
		next = res.LastOffset + 1
	}
	if l.segs[len(l.segs)-1].dio == nil {
		t.Fatal("the active segment does not append with direct I/O")
	}
	segs := l.Segments()
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	for _, s := range segs[:len(segs)-1] {
		if got := fileSize(t, segmentPrefix(dir, s.BaseOffset)+LogSuffix); got != s.Size {
			t.Errorf("sealed segment %d: file is %d bytes, its batches %d", s.BaseOffset, got, s.Size)
		}
	}
	check := func(l *Log) {
		t.Helper()
		checkValues(t, "read", readAllRecords(t, l), want)
		checkValues(t, "direct read", decode(t, sendAll(t, l, 0)), want)
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if s.BaseOffset == segs[len(segs)-1].BaseOffset {
			if got, want := fileSize(t, segmentPrefix(dir, s.BaseOffset)+LogSuffix), l.size-sumSizes(segs[:len(segs)-1]); got != want {
				t.Errorf("closed active segment: file is %d bytes, its batches %d", got, want)
			}
		}
	}
	l2 := openDirectLog(t, dir, directOpts, nil)
	if st := l2.LastRecovery(); st.BytesScanned != 0 || st.BytesTruncated != 0 {
		t.Errorf("reopen after a clean close: %+v, want nothing scanned", st)
	}
	check(l2)
	if res := mustAppend(t, l2, testBatch(2, 5000, "after")); res.BaseOffset != next {
		t.Errorf("append after reopen at %d, want %d", res.BaseOffset, next)
	}
	if got := readAllRecords(t, l2); got[len(got)-1].value != "after-1" {
		t.Errorf("last record after reopen and append: %q", got[len(got)-1].value)
	}
}

func sumSizes(segs []SegmentInfo) (n int64) {
	for _, s := range segs {
		n += s.Size
	}
	return n
}

// TestDirectCrash: a crash leaves the active segment padded with zeros to a
// block boundary (and what was never synced only in memory); Open cuts the
// padding, keeps every synced record and appends after it.
func TestDirectCrash(t *testing.T) {
	dir := t.TempDir()
	opts := directOpts
	opts.CheckpointInterval = 1
	l := openDirectLog(t, dir, opts, stoppedFlusher())
	var synced int64
	for i := range 50 {
		synced = mustAppend(t, l, testBatch(1+i%7, int64(100+i), fmt.Sprintf("s%d", i))).LastOffset + 1
		if i%10 == 9 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 5 { // never synced
		mustAppend(t, l, testBatch(3, int64(500+i), fmt.Sprintf("u%d", i)))
	}
	active := l.segs[len(l.segs)-1]
	logical, path := active.dio.synced, active.prefix+LogSuffix
	crash(l)
	if got := fileSize(t, path); got != alignUp(logical) {
		t.Fatalf("crashed active segment is %d bytes, want the synced end %d padded to %d", got, logical, alignUp(logical))
	}

	l2 := openDirectLog(t, dir, opts, nil)
	st := l2.LastRecovery()
	if st.BytesTruncated != alignUp(logical)-logical {
		t.Errorf("recovery cut %d bytes, want the %d bytes of padding", st.BytesTruncated, alignUp(logical)-logical)
	}
	recs := readAllRecords(t, l2)
	checkContiguous(t, recs, 0, synced)
	if res := mustAppend(t, l2, testBatch(2, 900, "again")); res.BaseOffset != synced {
		t.Fatalf("append after recovery at %d, want %d", res.BaseOffset, synced)
	}
	checkContiguous(t, decode(t, sendAll(t, l2, 0)), 0, synced+2)
}

// TestDirectWriteBehind: appends that leave writeBehindMin bytes of whole
// blocks unwritten reach the file before any flush, byte for byte; a flush
// then makes all of it durable; after a crash, recovery keeps every synced
// record and the whole batches the write-behind wrote past them, in order.
func TestDirectWriteBehind(t *testing.T) {
	dir := t.TempDir()
	opts := directOpts
	opts.SegmentBytes = 16 << 20
	l := openDirectLog(t, dir, opts, stoppedFlusher())
	var appended []byte // the batches as written (Append sets their offsets)
	var next int64      // record i has timestamp i
	appendUpTo := func(size int) int64 {
		for len(appended) < size {
			b := sizedBatch(3000+int(next)%4096, next)
			next = mustAppend(t, l, b).LastOffset + 1
			appended = append(appended, b...)
		}
		return next
	}

	appendUpTo(3 * writeBehindMin)
	l.behindWG.Wait()
	active := l.segs[len(l.segs)-1]
	path := active.prefix + LogSuffix
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := alignDown(int64(len(appended))) - writeBehindMin; int64(len(onDisk)) <= want {
		t.Fatalf("before any flush the file has %d bytes, want more than %d (written behind)", len(onDisk), want)
	}
	if int64(len(onDisk))%dioAlign != 0 || !bytes.Equal(onDisk, appended[:len(onDisk)]) {
		t.Fatalf("written behind: %d bytes, not whole blocks of the appended batches", len(onDisk))
	}
	if hwm := l.HighWatermark(); hwm != 0 {
		t.Fatalf("high watermark %d before any flush", hwm)
	}

	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	synced := l.HighWatermark()
	if got := readAllRecords(t, l); int64(len(got)) != synced {
		t.Fatalf("read %d records after the sync, high watermark %d", len(got), synced)
	}
	total := appendUpTo(len(appended) + 2*writeBehindMin) // never synced
	// Let the write-behind write what it will: crash closes the log, and a
	// write-behind that had not started yet would then write nothing.
	l.behindWG.Wait()
	crash(l)

	l2 := openDirectLog(t, dir, opts, nil)
	recs := readAllRecords(t, l2)
	if n := int64(len(recs)); n < synced || n > total {
		t.Fatalf("recovered %d records, want the %d synced, at most the %d appended", n, synced, total)
	}
	if int64(len(recs)) == synced {
		t.Errorf("recovered only the synced records: the write-behind wrote nothing past them")
	}
	checkContiguous(t, recs, 0, int64(len(recs)))
	for i, r := range recs {
		if r.ts != int64(i) {
			t.Fatalf("record %d has timestamp %d, want %d", i, r.ts, i)
		}
	}
}

// TestDirectConcurrent: producers, a Flusher and readers at once (run with
// -race): every read sees whole, valid, contiguous batches.
// The second case uses batches large enough for the write-behind to run
// between flushes, and segments that roll under it.
func TestDirectConcurrent(t *testing.T) {
	small := func(p, i int) []byte { return testBatch(1+(i+p)%9, int64(i), fmt.Sprintf("p%d-%d", p, i)) }
	large := func(p, i int) []byte { return sizedBatch(4000+(i*7919+p*104729)%60000, int64(i)) }
	big := directOpts
	big.SegmentBytes = 3 << 20
	t.Run("small", func(t *testing.T) { testDirectConcurrent(t, directOpts, small) })
	t.Run("write-behind", func(t *testing.T) { testDirectConcurrent(t, big, large) })
}

func testDirectConcurrent(t *testing.T, opts Options, mk func(p, i int) []byte) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	l := openDirectLog(t, t.TempDir(), opts, fl)
	const producers, each = 4, 200
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res, err := l.Append(mk(p, i), 0)
				if err != nil {
					t.Error(err)
					return
				}
				if i%8 != 7 && i != each-1 {
					continue // a few appends in flight, as a pipelining producer has
				}
				if err := l.WaitDurable(waitCtx(t, 10*time.Second), res.LastOffset); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if hwm := l.HighWatermark(); hwm > 0 {
				r, err := l.ReadFile(rand.Int64N(hwm), 20<<10)
				if err != nil {
					t.Error(err)
					return
				}
				var b bytes.Buffer
				if r.Len > 0 {
					err = sendMem(&b, r)
					r.Release()
				}
				if err != nil {
					t.Error(err)
					return
				}
				if b.Len() > 0 {
					decode(t, b.Bytes())
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	recs := decode(t, sendAll(t, l, 0))
	if len(recs) == 0 || int64(len(recs)) != l.HighWatermark() {
		t.Fatalf("read %d records, high watermark %d", len(recs), l.HighWatermark())
	}
}

// TestDirectRefusedFallsBack: where O_DIRECT is refused (tmpfs) the log
// appends through the page cache and reads with sendfile.
func TestDirectRefusedFallsBack(t *testing.T) {
	if _, err := os.Stat("/dev/shm"); err != nil {
		t.Skip("no /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "streamd-direct-")
	if err != nil {
		t.Skip(err)
	}
	defer os.RemoveAll(dir)
	l := openLog(t, dir, directOpts, nil)
	if !l.noDirect.Load() {
		t.Skip("/dev/shm accepts O_DIRECT here")
	}
	for i := range 20 {
		mustAppend(t, l, testBatch(3, int64(i), "x"))
	}
	r, err := l.ReadFile(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if r.Mem != nil || r.Len == 0 {
		t.Fatalf("ReadFile: %d bytes in memory of %d; want a plain file range", len(r.Mem), r.Len)
	}
	checkContiguous(t, readAllRecords(t, l), 0, 60)
}

// testBatchValues builds an uncompressed batch with these record values.
func testBatchValues(values []string, baseTS int64) []byte {
	recs := make([]batch.Record, len(values))
	for i, v := range values {
		recs[i] = batch.Record{Value: []byte(v), TimestampDelta: int64(i)}
	}
	return batch.Build(batch.BuildOptions{ProducerID: -1}, recs, baseTS)
}

// sequentialRead is what readThrough saw.
type sequentialRead struct {
	fromMem, direct int
	short           int // reads that returned less than they could from memory
}

// readThrough writes batches (~64 KiB each, straddling chunk boundaries) to a
// new direct log, reads it back with ReadFile 1 MiB at a time, calling pause
// after each read, checks the bytes against Read and that Close drops every
// chunk, and returns how the reads were answered and the log's length.
func readThrough(t *testing.T, batches int, pause func(*Log)) (sequentialRead, int64) {
	t.Helper()
	opts := directOpts
	opts.SegmentBytes = 64 << 20
	l := openDirectLog(t, t.TempDir(), opts, nil)
	for i := range batches {
		mustAppend(t, l, sizedBatch(64<<10+i*7, int64(i)))
	}
	want, err := l.Read(0, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	// A read is short when it returns less than 1 MiB less one batch and
	// ends before the last whole chunk (the partial chunk at the end is
	// never cached).
	maxBatch := int64(64<<10 + batches*7 + 61)
	lastChunk := int64(len(want.Data)) &^ (directChunk - 1)
	var got bytes.Buffer
	var res sequentialRead
	for off := int64(0); off < l.HighWatermark(); {
		r, err := l.ReadFile(off, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case r.FromCache:
			res.fromMem++
		case r.Mem != nil:
			res.direct++
		default:
			t.Fatalf("ReadFile(%d) of a direct log is not in memory", off)
		}
		if r.Len < 1<<20-maxBatch && r.Pos+r.Len+maxBatch < lastChunk {
			t.Logf("short read at position %d: %d bytes", r.Pos, r.Len)
			res.short++
		}
		if err := sendMem(&got, r); err != nil {
			t.Fatal(err)
		}
		r.Release()
		recs := decode(t, got.Bytes())
		off = recs[len(recs)-1].off + 1
		pause(l)
	}
	if !bytes.Equal(got.Bytes(), want.Data) {
		t.Fatalf("read %d bytes through the cache, differing from the %d bytes of Read", got.Len(), len(want.Data))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := raChunksInUse.Load(); n != 0 {
		t.Errorf("%d read-ahead chunks still in use after Close", n)
	}
	return res, int64(len(want.Data))
}

// TestDirectReadAhead: a sequential reader of a direct log is answered from
// the read-ahead cache after its first read, with the same bytes as the file;
// Close drops the cache and its buffers.
func TestDirectReadAhead(t *testing.T) {
	res, _ := readThrough(t, 120, func(l *Log) { // ~7.5 MiB
		// Let the fill started by this read finish, as a consumer's
		// processing time would.
		deadline := time.Now().Add(5 * time.Second)
		for l.ra.busy() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	})
	// The first read is direct, and so may be the last (its chunk is not
	// wholly below the high watermark, so it is never cached).
	if res.direct > 2 || res.fromMem < 5 {
		t.Errorf("%d reads from memory, %d direct reads; want all but the first and last from memory", res.fromMem, res.direct)
	}
}

// TestDirectReadAheadNoPause: a reader that asks for the next range at once,
// faster than the read-ahead can read (a consumer nearly as fast as the disk),
// waits for the chunk being read instead of reading it again: every read but
// the first and the last is answered from memory, whole, and no chunk is read
// from the disk twice.
func TestDirectReadAheadNoPause(t *testing.T) {
	before := ReadIOStats()
	res, size := readThrough(t, 200, func(*Log) {}) // ~12.5 MiB
	after := ReadIOStats()
	if res.direct > 2 || res.fromMem < 10 {
		t.Errorf("%d reads from memory, %d direct reads; want all but the first and last from memory", res.fromMem, res.direct)
	}
	if res.short > 0 {
		t.Errorf("%d reads answered short of their 1 MiB (a chunk being read was not waited for)", res.short)
	}
	// A direct read reads at most 2 chunks (1 MiB from an unaligned
	// position), the read-ahead one chunk at a time.
	chunks := (size + directChunk - 1) / directChunk
	read := (after.ReadAheadChunks - before.ReadAheadChunks) + 2*(after.DirectReads-before.DirectReads)
	if read > chunks+2 {
		t.Errorf("read %d chunks from the disk for a %d-chunk log; some were read twice", read, chunks)
	}
}

// TestDirectReadAheadReaders: several sequential readers at different
// positions of one log (consumer groups), reading at once: each gets its own
// read-ahead, so every read but its first (and the log's last, partial chunk)
// is answered from memory, and the disk is not read much more than once.
func TestDirectReadAheadReaders(t *testing.T) {
	for _, n := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d readers", n), func(t *testing.T) {
			opts := directOpts
			opts.SegmentBytes = 256 << 20
			l := openDirectLog(t, t.TempDir(), opts, nil)
			logs := []*Log{l}
			for i := range 768 { // ~48 MiB
				mustAppend(t, l, sizedBatch(64<<10+i*7, int64(i)))
			}
			froms := make([]int64, n)
			for r := range froms {
				froms[r] = int64(r * 768 / n)
			}
			checkReaders(t, logs, n, froms, 768/int64(n))
		})
	}
}

// TestDirectReadAheadManyLogs: one sequential reader on each of as many logs
// as the read-ahead's memory holds raPerStream chunks for, so that chunks a
// read is still sending would fill it: chunks already read are given up for
// new ones, and every log's reads after the first still come from memory.
func TestDirectReadAheadManyLogs(t *testing.T) {
	opts := directOpts
	opts.SegmentBytes = 256 << 20
	var logs []*Log
	for range raMaxChunks / raPerStream {
		l := openDirectLog(t, t.TempDir(), opts, nil)
		for i := range 192 { // ~12 MiB
			mustAppend(t, l, sizedBatch(64<<10+i*7, int64(i)))
		}
		logs = append(logs, l)
	}
	checkReaders(t, logs, len(logs), make([]int64, len(logs)), 192)
}

// checkReaders runs n readers at once, reader r reading logs[r%len(logs)]
// with ReadFile 1 MiB at a time from offset froms[r], count offsets, and
// checks each read's records and how the reads were answered.
func checkReaders(t *testing.T, logs []*Log, n int, froms []int64, count int64) {
	t.Helper()
	before := ReadIOStats()
	res := make([]sequentialRead, n)
	var wg sync.WaitGroup
	for r := range n {
		l := logs[r%len(logs)]
		wg.Go(func() {
			var got bytes.Buffer
			for off := froms[r]; off < froms[r]+count; {
				rd, err := l.ReadFile(off, 1<<20)
				if err != nil || rd.Len == 0 || rd.Mem == nil {
					t.Errorf("reader %d: ReadFile(%d): %v (%d bytes, in memory %v)", r, off, err, rd.Len, rd.Mem != nil)
					return
				}
				if rd.FromCache {
					res[r].fromMem++
				} else {
					res[r].direct++
				}
				got.Reset()
				err = sendMem(&got, rd)
				rd.Release()
				if err != nil {
					t.Error(err)
					return
				}
				recs := decode(t, got.Bytes())
				if recs[0].off != off {
					t.Errorf("reader %d: read from %d starts at %d", r, off, recs[0].off)
					return
				}
				off = recs[len(recs)-1].off + 1
			}
		})
	}
	wg.Wait()
	after := ReadIOStats()
	var size int64
	for _, l := range logs {
		size += l.Size()
	}
	chunks := (size + directChunk - 1) / directChunk
	read := (after.ReadAheadChunks - before.ReadAheadChunks) + 2*(after.DirectReads-before.DirectReads)
	t.Logf("reads per reader %+v; at most %d chunks read from the disk for %d", res, read, chunks)
	for r, x := range res {
		// The first read is direct, and so may be the log's last two
		// (its partial chunk is never cached); allow two more for a
		// machine so busy that a fill falls behind (the cache used to
		// leave trailing readers 9-12).
		if x.direct > 5 {
			t.Errorf("reader %d: %d direct reads, %d from memory; want all but the first (and the log's last) from memory", r, x.direct, x.fromMem)
		}
	}
	// Each reader reads ahead up to raAhead past where the next one started.
	if slack := int64(n) * (raAhead/directChunk + 2); read > chunks+slack {
		t.Errorf("read %d chunks from the disk for %d (slack %d); chunks were read again", read, chunks, slack)
	}
}

// TestDirectTailReader: a reader at the end of a direct log, reading each
// batch as soon as it is synced (a consumer keeping up with its producer), is
// answered from the tail's memory, reading nothing from the disk; the tail
// keeps chunks for it only once it has read near the end. After a
// reopen (the tail holds only the last block), reads of the last batches come
// from the disk, each from the block holding its position rather than from
// the start of its 1 MiB chunk.
func TestDirectTailReader(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Fsync: true, DirectIO: true, SegmentBytes: 64 << 20, IndexIntervalBytes: 4096}
	l := openDirectLog(t, dir, opts, nil)
	const n = 100 // ~3.2 MB: the reads move through 4 chunks
	value := func(i int) string { return fmt.Sprintf("%d-%s", i, bytes.Repeat([]byte{'v'}, 32<<10+i*13)) }
	readOne := func(l *Log, off int64) FileRead {
		t.Helper()
		r, err := l.ReadFile(off, 64<<10)
		if err != nil || r.Len == 0 || r.Mem == nil {
			t.Fatalf("ReadFile(%d): %v (%d bytes, in memory %v)", off, err, r.Len, r.Mem != nil)
		}
		var got bytes.Buffer
		if err := sendMem(&got, r); err != nil {
			t.Fatal(err)
		}
		r.Release()
		if recs := decode(t, got.Bytes()); len(recs) != 1 || recs[0].off != off || recs[0].value != value(int(off)) {
			t.Fatalf("ReadFile(%d) answered with %d records, want the one batch at that offset", off, len(recs))
		}
		return r
	}
	for i := range n / 2 { // no reader yet: the tail keeps only what it must
		mustAppend(t, l, testBatchValues([]string{value(i)}, int64(i)))
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if k := tailKept.Load(); k != 0 {
		t.Errorf("%d tail chunks kept with no reader", k)
	}
	before := ReadIOStats()
	var answered int64
	answered += readOne(l, 0).Len // a reader behind: not from the tail
	for i := n / 2; i < n; i++ {
		res := mustAppend(t, l, testBatchValues([]string{value(i)}, int64(i)))
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		answered += readOne(l, res.BaseOffset).Len
	}
	after := ReadIOStats()
	if d := after.TailReads - before.TailReads; d != n/2 {
		t.Errorf("%d of %d reads at the log end answered from the tail", d, n/2)
	}
	first := after.DirectReadBytes - before.DirectReadBytes
	if d := after.TailReadBytes - before.TailReadBytes; d != answered-first {
		t.Errorf("tail read bytes %d, want the %d answered at the log end", d, answered-first)
	}
	// The disk: the first read, and the read-ahead it started.
	if d := after.DiskReadBytes - before.DiskReadBytes - (after.ReadAheadChunks-before.ReadAheadChunks)*directChunk; d > 64<<10+2*dioAlign {
		t.Errorf("read %d bytes from the disk besides the read-ahead: more than the first read's 64 KiB", d)
	}
	if k := tailKept.Load(); k == 0 || k > tailKeep/tailChunk {
		t.Errorf("%d tail chunks kept for a reader at the end; want some, at most %d", k, tailKeep/tailChunk)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if k := tailKept.Load(); k != 0 {
		t.Errorf("%d tail chunks still kept after Close", k)
	}

	l = openDirectLog(t, dir, opts, nil)
	for off := int64(n - 10); off < n; off++ {
		before := ReadIOStats()
		r := readOne(l, off)
		after := ReadIOStats()
		read := after.DiskReadBytes - before.DiskReadBytes - (after.ReadAheadChunks-before.ReadAheadChunks)*directChunk
		// It reads what it was asked for (64 KiB), from the block holding
		// its position.
		if after.CacheReads == before.CacheReads && (read < r.Len || read > 64<<10+2*dioAlign) {
			t.Errorf("ReadFile(%d, 64 KiB) after a reopen read %d bytes from the disk for %d", off, read, r.Len)
		}
	}
}

// TestDirectTailKeptShared: with a reader at the end of each of many logs,
// the chunks kept for them are shared: every log keeps some, none more than
// its share of tailKeptMax, and all together no more than tailKeptMax.
func TestDirectTailKeptShared(t *testing.T) {
	const logs = 12
	opts := Options{Fsync: true, DirectIO: true, SegmentBytes: 64 << 20, IndexIntervalBytes: 4096}
	var ls []*Log
	for range logs {
		ls = append(ls, openDirectLog(t, t.TempDir(), opts, nil))
	}
	for i := range 50 { // 4.8 MB per log: more than its share
		for _, l := range ls {
			res := mustAppend(t, l, sizedBatch(96<<10, int64(i)))
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			r, err := l.ReadFile(res.BaseOffset, 1<<20)
			if err != nil || r.Len == 0 {
				t.Fatalf("ReadFile(%d): %v, %d bytes", res.BaseOffset, err, r.Len)
			}
			r.Release()
		}
	}
	share := tailKeptMax / logs
	total := 0
	for i, l := range ls {
		l.mu.RLock()
		kept := l.segs[len(l.segs)-1].dio.kept
		l.mu.RUnlock()
		total += kept
		if kept == 0 || kept > share {
			t.Errorf("log %d keeps %d chunks; want 1-%d (its share)", i, kept, share)
		}
	}
	if got := tailKept.Load(); got != int64(total) || total > tailKeptMax {
		t.Errorf("tailKept %d, logs keep %d; want equal and at most %d", got, total, tailKeptMax)
	}
	if got := tailKeepers.Load(); got != logs {
		t.Errorf("tailKeepers %d, want %d", got, logs)
	}
	for _, l := range ls {
		l.Close()
	}
	if tailKept.Load() != 0 || tailKeepers.Load() != 0 {
		t.Errorf("after Close: tailKept %d, tailKeepers %d; want 0", tailKept.Load(), tailKeepers.Load())
	}
}

// TestDirectTailReadsWhileAppending: readers following the log end, each
// holding what it was answered with for a while before sending it, while
// producers append and segments roll (their tails close and give their chunks
// back for reuse): every batch sent is intact (CRC) and in order, so no tail
// chunk was reused while a read still sent it.
func TestDirectTailReadsWhileAppending(t *testing.T) {
	scribbleFreed = true
	defer func() { scribbleFreed = false }()
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	opts := directOpts
	opts.SegmentBytes = 128 << 10
	l := openDirectLog(t, t.TempDir(), opts, fl)
	before := ReadIOStats()
	const producers, each = 3, 300
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				res, err := l.Append(sizedBatch(1000+(p*each+i)*37%9000, int64(i)), 0)
				if err == nil && i%4 == 3 {
					err = l.WaitDurable(waitCtx(t, 10*time.Second), res.LastOffset)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	total := int64(producers * each)
	for range 2 {
		wg.Go(func() {
			deadline := time.Now().Add(30 * time.Second)
			for next := int64(0); next < total; {
				if time.Now().After(deadline) {
					t.Errorf("reader at %d of %d after 30 s", next, total)
					return
				}
				if next >= l.HighWatermark() {
					time.Sleep(50 * time.Microsecond)
					continue
				}
				r, err := l.ReadFile(next, 64<<10)
				if err != nil || r.Len == 0 {
					t.Errorf("ReadFile(%d): %v, %d bytes", next, err, r.Len)
					return
				}
				time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond) // appends, flushes and rolls go on
				var b bytes.Buffer
				err = sendMem(&b, r)
				r.Release()
				if err != nil {
					t.Error(err)
					return
				}
				for _, rec := range decode(t, b.Bytes()) {
					if rec.off != next {
						t.Errorf("record at offset %d, want %d", rec.off, next)
						return
					}
					next++
				}
			}
		})
	}
	wg.Wait()
	after := ReadIOStats()
	t.Logf("tail reads %d, cache reads %d, direct reads %d", after.TailReads-before.TailReads, after.CacheReads-before.CacheReads, after.DirectReads-before.DirectReads)
	if after.TailReads == before.TailReads {
		t.Error("no read was answered from the tail")
	}
}

// TestDirectWriteFailureFailsLog: a direct write that fails (here: the handle
// cannot write; on a real machine: a full disk) fails the log like a failed
// buffered write: waiters get ErrFailed, nothing unsynced becomes visible,
// what was synced stays readable, and a reopen continues after it.
func TestDirectWriteFailureFailsLog(t *testing.T) {
	dir := t.TempDir()
	l := openDirectLog(t, dir, directOpts, stoppedFlusher())
	mustAppend(t, l, testBatch(2, 0, "ok"))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	seg := l.segs[len(l.segs)-1]
	ro, err := os.Open(seg.prefix + LogSuffix) // read-only: the next direct write fails
	if err != nil {
		t.Fatal(err)
	}
	seg.dio.f.Close()
	seg.dio.f = ro
	l.mu.Unlock()
	res := mustAppend(t, l, testBatch(1, 0, "lost"))
	if err := l.Sync(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Sync after a failed direct write = %v, want ErrFailed", err)
	}
	if err := l.WaitDurable(context.Background(), res.LastOffset); !errors.Is(err, ErrFailed) {
		t.Errorf("WaitDurable = %v, want ErrFailed", err)
	}
	if hwm := l.HighWatermark(); hwm != 2 {
		t.Errorf("high watermark %d after the failure, want 2 (the synced records)", hwm)
	}
	checkContiguous(t, readAllRecords(t, l), 0, 2)
	l.Close()
	l2 := openDirectLog(t, dir, directOpts, nil)
	checkContiguous(t, readAllRecords(t, l2), 0, 2)
	if r := mustAppend(t, l2, testBatch(1, 0, "again")); r.BaseOffset != 2 {
		t.Errorf("append after reopen at %d, want 2", r.BaseOffset)
	}
}
