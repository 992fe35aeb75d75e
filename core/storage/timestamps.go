package storage

import (
	"fmt"
	"io"
	"math"

	"github.com/streamd/streamd/core/batch"
)

// viewsBelowHWM returns views of the segments holding offsets in
// [start, hwm), with references the caller must release.
func (l *Log) viewsBelowHWM() (views []segView, start, hwm int64, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, 0, 0, ErrClosed
	}
	start, hwm = l.start, l.hwm
	if start >= hwm {
		return nil, start, hwm, nil
	}
	for _, s := range l.segs[l.segmentForLocked(start):] {
		if s.base >= hwm {
			break
		}
		views = append(views, l.viewLocked(s))
	}
	return views, start, hwm, nil
}

func releaseViews(views []segView) {
	for i := range views {
		views[i].seg.release()
	}
}

// relBelow is the relative offset bound of v for offsets below hwm.
func relBelow(v *segView, hwm int64) uint32 {
	return uint32(min(min(v.next, hwm)-v.seg.base, math.MaxUint32))
}

// OffsetForTimestamp returns the first record (in offset order) at or after
// the log start offset and below the high watermark whose timestamp is >=
// ts, with that timestamp; found is false if there is none.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	views, start, hwm, err := l.viewsBelowHWM()
	if err != nil {
		return -1, -1, false, err
	}
	defer releaseViews(views)
	for i := range views {
		v := &views[i]
		_, ti, err := v.indexes(l.logger)
		if err != nil {
			return -1, -1, false, err
		}
		e, ok, err := ti.ceil(ts)
		if err != nil {
			return -1, -1, false, err
		}
		if !ok {
			continue // every batch of this segment is older
		}
		from := max(v.seg.base+int64(e.rel), start)
		if from >= hwm {
			break
		}
		pos, _, err := l.findBatch(v, from)
		if err != nil {
			return -1, -1, false, err
		}
		off, t, ok, err := l.scanTimestamps(v, pos, func(h batch.Header) bool { return h.MaxTimestamp >= ts },
			func(o, t int64) bool { return o >= start && o < hwm && t >= ts })
		if err != nil || ok {
			return off, t, ok, err
		}
	}
	return -1, -1, false, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp below the high watermark (the first such record), or
// (-1, -1) if there is none.
func (l *Log) MaxTimestamp() (offset, timestamp int64) {
	views, start, hwm, err := l.viewsBelowHWM()
	if err != nil {
		return -1, -1
	}
	defer releaseViews(views)
	best, bestTS := -1, int64(-1)
	var bestRel uint32
	for i := range views {
		_, ti, err := views[i].indexes(l.logger)
		if err != nil {
			continue
		}
		if e, ok, err := ti.lastBelow(relBelow(&views[i], hwm)); err == nil && ok && e.ts > bestTS {
			best, bestTS, bestRel = i, e.ts, e.rel
		}
	}
	if best < 0 {
		return -1, -1
	}
	v := &views[best]
	batchOff := v.seg.base + int64(bestRel)
	pos, h, err := l.findBatch(v, batchOff)
	if err == nil {
		// The batch's maxTimestamp is bestTS; find its record.
		one := *v
		one.limit = pos + int64(h.TotalSize())
		off, _, ok, err := l.scanTimestamps(&one, pos, func(batch.Header) bool { return true },
			func(o, t int64) bool { return t == bestTS && o >= start })
		if err == nil && ok {
			return off, bestTS
		}
	}
	return max(batchOff, start), bestTS
}

// scanTimestamps walks the batches of v from pos; for each batch that
// wantBatch accepts it decodes the record timestamps and returns the first
// record that match accepts.
func (l *Log) scanTimestamps(v *segView, pos int64, wantBatch func(batch.Header) bool, match func(off, ts int64) bool) (int64, int64, bool, error) {
	var hdr [batch.HeaderLen]byte
	var buf []byte
	for pos < v.limit {
		h, err := v.seg.readHeader(pos, &hdr)
		if err != nil {
			return -1, -1, false, err
		}
		n := int64(h.TotalSize())
		if n < batch.HeaderLen || pos+n > v.limit {
			return -1, -1, false, fmt.Errorf("%w: segment %d position %d", errBadBatch, v.seg.base, pos)
		}
		if wantBatch(h) {
			if int64(cap(buf)) < n {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			if _, err := v.seg.f.ReadAt(buf, pos); err != nil && err != io.EOF {
				return -1, -1, false, fmt.Errorf("storage: read: %w", err)
			}
			var off, ts int64
			found := false
			err := batch.RecordTimestamps(buf, func(o, t int64) bool {
				if match(o, t) {
					off, ts, found = o, t, true
					return false
				}
				return true
			})
			if err != nil {
				return -1, -1, false, fmt.Errorf("storage: batch at offset %d: %w", h.BaseOffset, err)
			}
			if found {
				return off, ts, true, nil
			}
		}
		pos += n
	}
	return -1, -1, false, nil
}
