package storage

import (
	"os"

	"github.com/streamd/streamd/core/batch"
)

// FileRead is a Read answered as a byte range of a segment file, for sending with
// sendfile(2) instead of copying the bytes through user space. The range holds whole
// batches, under the same rules as Read. The segment file stays open (even if the
// segment is deleted meanwhile) until Release is called; Release must be called
// exactly once when Len > 0.
type FileRead struct {
	HighWatermark, LogStartOffset, LastStableOffset int64
	File                                            *os.File
	Mem                                             [][]byte // non-nil: the range is in memory (direct logs); send these
	FromCache                                       bool     // Mem came from the read-ahead cache
	Pos, Len                                        int64
	release                                         func()
}

// prefetchBytes is how much past a file read ReadFile asks the kernel to prefetch.
const prefetchBytes = 4 << 20

// Release lets the segment file go.
func (r *FileRead) Release() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
}

// ReadFile is Read without reading: it returns where the batches are. Len is 0 when
// there is nothing to read (offset at the high watermark).
func (l *Log) ReadFile(offset int64, maxBytes int32) (FileRead, error) {
	rr, v, ok, err := l.startRead(offset)
	res := FileRead{HighWatermark: rr.HighWatermark, LogStartOffset: rr.LogStartOffset, LastStableOffset: rr.LastStableOffset}
	if !ok {
		return res, err
	}

	pos, h, err := l.findBatch(&v, offset)
	if err != nil {
		v.seg.release()
		return res, err
	}
	limit := min(pos+int64(max(maxBytes, 0)), v.limit)
	if l.direct() {
		if ok, err := l.readMem(&res, v.seg, pos, int64(h.TotalSize()), limit, v.limit); ok || err != nil {
			if err != nil {
				v.seg.release()
			}
			return res, err
		}
	}
	// Whole batches: the first one always (KIP-74), then as many as fit.
	end := wholeBatchesFrom(pos+int64(h.TotalSize()), limit, v.seg.readHeader)
	// Start reading what a sequential consumer asks for next, so the next
	// fetch finds it in the page cache.
	prefetch(v.seg.f, end, prefetchBytes)
	res.File, res.Pos, res.Len = v.seg.f, pos, end-pos
	res.release = v.seg.release
	return res, nil
}

// readMem answers a direct log's read from memory: from the tail when it is
// the log end (tailread.go), else from the read-ahead cache, else with one
// direct read of the range; these two schedule read-ahead past the end. ok is
// false (and err nil) when O_DIRECT is refused: read through the page cache
// then. On success res holds seg's reference.
func (l *Log) readMem(res *FileRead, seg *segment, pos, first, limit, segLimit int64) (bool, error) {
	if l.readTail(res, seg, pos, first, limit) {
		return true, nil
	}
	end, m, ok := l.readCached(seg, pos, first, limit)
	res.FromCache = ok
	if !ok {
		f := seg.directReader()
		if f == nil {
			return false, nil
		}
		var err error
		if end, m, ok, err = readDirect(f, pos, first, limit); !ok {
			return false, err
		}
		for _, c := range m.chunks { // the read-ahead below need not read them again
			l.ra.insert(seg, c, segLimit, true)
		}
	}
	if res.FromCache {
		ioStats.cacheReads.Add(1)
		ioStats.cacheReadBytes.Add(end - pos)
	} else {
		ioStats.directReads.Add(1)
		ioStats.directReadBytes.Add(end - pos)
	}
	res.Mem, res.File, res.Pos, res.Len = appendPieces(nil, m.at, pos, end), seg.f, pos, end-pos
	res.release = func() { m.release(); seg.release() }
	l.ra.schedule(seg, pos, end, segLimit)
	return true, nil
}

// readCached returns the end of the whole batches from pos (the first one
// first bytes long) up to limit that the read-ahead cache holds, with the
// chunks holding them; ok is false if it does not hold the first batch. When
// the next chunk the range needs is being read by the fill, it waits for that
// read and looks again (a few times at most: each wait is for a different
// chunk), so a consumer just behind the fill gets a whole answer from memory
// rather than a short one or a second read of the same bytes.
func (l *Log) readCached(seg *segment, pos, first, limit int64) (end int64, m memRange, ok bool) {
	want := max(limit, pos+first)
	for i := 0; ; i++ {
		cs := l.ra.lookup(seg, pos, want)
		missing := pos&^(directChunk-1) + int64(len(cs))*directChunk
		var done <-chan struct{}
		if i < raWaits {
			done = l.ra.inFlight(seg, missing)
		}
		if len(cs) > 0 {
			m = memRange{chunks: cs, start: cs[0].pos}
			if pos+first <= m.end() && (m.end() >= want || done == nil) {
				return m.walk(pos, first, limit), m, true
			}
			m.release()
		}
		if done == nil {
			return 0, memRange{}, false
		}
		<-done
	}
}

// raWaits bounds how many in-flight chunk reads one ReadFile waits for before
// reading directly.
const raWaits = 4

// wholeBatchesFrom extends end (a batch boundary) over the whole batches that
// end by limit, reading each header with header; it stops at the first one
// that does not fit or cannot be read.
func wholeBatchesFrom(end, limit int64, header func(pos int64, buf *[batch.HeaderLen]byte) (batch.Header, error)) int64 {
	var hdr [batch.HeaderLen]byte
	for end < limit {
		h, err := header(end, &hdr)
		if err != nil {
			break
		}
		n := int64(h.TotalSize())
		if n < batch.HeaderLen || end+n > limit {
			break
		}
		end += n
	}
	return end
}
