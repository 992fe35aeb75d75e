package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/core/batch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// quietLogger drops log output unless -v.
func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testBatch builds a batch of n records whose values name their position,
// timestamps baseTS, baseTS+1, ...
func testBatch(n int, baseTS int64, tag string) []byte {
	return testBatchCodec(n, baseTS, tag, batch.CodecNone)
}

func testBatchCodec(n int, baseTS int64, tag string, c batch.Codec) []byte {
	recs := make([]batch.Record, n)
	for i := range recs {
		recs[i] = batch.Record{
			Key:            []byte(fmt.Sprintf("k%d", i)),
			Value:          []byte(fmt.Sprintf("%s-%d", tag, i)),
			TimestampDelta: int64(i),
		}
	}
	return batch.Build(batch.BuildOptions{ProducerID: -1, Codec: c}, recs, baseTS)
}

// sizedBatch builds a one-record batch of about size bytes.
func sizedBatch(size int, ts int64) []byte {
	v := bytes.Repeat([]byte{'x'}, max(size-batch.HeaderLen-16, 1))
	return batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Value: v}}, ts)
}

func openLog(t testing.TB, dir string, opts Options, fl *Flusher) *Log {
	t.Helper()
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = time.Hour // only Open and Close checkpoint
	}
	l, err := Open(dir, opts, fl, quietLogger())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte) AppendResult {
	t.Helper()
	res, err := l.Append(b, 0)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// crash abandons l as a crash would: no flush, no checkpoint, files closed.
func crash(l *Log) {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	l.closed, l.released = true, true
	l.notifyLocked()
	segs, uns := l.segs, l.unsynced
	l.segs, l.unsynced = nil, nil
	l.mu.Unlock()
	l.behindWG.Wait() // a write in flight at the crash either landed or not; let it land
	for _, s := range append(uns, segs...) {
		s.release()
	}
}

// stoppedFlusher queues logs but never flushes them (no goroutine), so the
// high watermark of a Fsync log only moves on Sync.
func stoppedFlusher() *Flusher {
	return &Flusher{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// record is one decoded record of a Read.
type record struct {
	off   int64
	ts    int64
	value string
}

// decode returns the records of whole batches in data, checking the batches
// are contiguous.
func decode(t testing.TB, data []byte) []record {
	t.Helper()
	var out []record
	pos := 0
	for pos < len(data) {
		h, recs, err := batch.Records(data[pos:])
		if err != nil {
			t.Fatalf("decode at %d: %v", pos, err)
		}
		if !batch.VerifyCRC(data[pos:]) {
			t.Fatalf("batch at %d: bad CRC", pos)
		}
		for _, r := range recs {
			out = append(out, record{off: h.BaseOffset + int64(r.OffsetDelta), ts: h.RecordTimestamp(r), value: string(r.Value)})
		}
		pos += h.TotalSize()
	}
	return out
}

// readAllRecords reads every record from the log start to the high
// watermark.
func readAllRecords(t testing.TB, l *Log) []record {
	t.Helper()
	var out []record
	off := l.StartOffset()
	for off < l.HighWatermark() {
		res, err := l.Read(off, 64<<10)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		recs := decode(t, res.Data)
		if len(recs) == 0 {
			t.Fatalf("Read(%d): no data below high watermark %d", off, res.HighWatermark)
		}
		for _, r := range recs {
			if r.off >= off {
				out = append(out, r)
			}
		}
		off = recs[len(recs)-1].off + 1
	}
	return out
}

func checkContiguous(t testing.TB, recs []record, from, to int64) {
	t.Helper()
	if int64(len(recs)) != to-from {
		t.Fatalf("got %d records, want %d (offsets %d..%d)", len(recs), to-from, from, to)
	}
	for i, r := range recs {
		if r.off != from+int64(i) {
			t.Fatalf("record %d has offset %d, want %d", i, r.off, from+int64(i))
		}
	}
}

// checkValues checks that recs are offsets 0..len(want)-1 in order with the
// values want; what names the read path in failure messages.
func checkValues(t testing.TB, what string, recs []record, want []string) {
	t.Helper()
	checkContiguous(t, recs, 0, int64(len(want)))
	for i, r := range recs {
		if r.value != want[i] {
			t.Fatalf("%s, offset %d: value %q, want %q", what, r.off, r.value, want[i])
		}
	}
}

func segmentFiles(t testing.TB, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func waitCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// busy reports whether a read-ahead fill runs.
func (ra *readAhead) busy() bool {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for i := range ra.streams {
		if ra.streams[i].filling {
			return true
		}
	}
	return false
}

// pending reports how many files wait in the reaper or are being shrunk.
func (r *reaper) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.queue)
	if r.running {
		n++
	}
	return n
}

// sendMem writes the bytes of a read answered from memory (r.Mem), as the
// broker's writer does.
func sendMem(w io.Writer, r FileRead) error {
	for _, b := range r.Mem {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
