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
	Direct                                          *os.File // non-nil: send with SendDirect(w, Direct, File, Pos, Len)
	Pos, Len                                        int64
	release                                         func()
}

// readAhead is how much past a file read ReadFile asks the kernel to prefetch.
const readAhead = 4 << 20

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
	// Whole batches: the first one always (KIP-74), then as many as fit.
	end := pos + int64(h.TotalSize())
	limit := min(pos+int64(max(maxBytes, 0)), v.limit)
	var hdr [batch.HeaderLen]byte
	for end < limit {
		nh, err := v.seg.readHeader(end, &hdr)
		if err != nil {
			break
		}
		n := int64(nh.TotalSize())
		if n < batch.HeaderLen || end+n > limit {
			break
		}
		end += n
	}
	if l.direct() {
		res.Direct = v.seg.directReader()
	}
	if res.Direct == nil {
		// Start reading what a sequential consumer asks for next, so the
		// next fetch finds it in the page cache.
		prefetch(v.seg.f, end, readAhead)
	}
	res.File, res.Pos, res.Len = v.seg.f, pos, end-pos
	res.release = v.seg.release
	return res, nil
}
