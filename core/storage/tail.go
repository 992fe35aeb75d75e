package storage

import (
	"sort"

	"github.com/streamd/streamd/core/batch"
)

// WalkTail calls fn with the header of each batch in (about) the last window bytes of
// the active segment, oldest first, up to the high watermark. It reads headers only.
// The broker rebuilds idempotent-producer state from it after a restart.
func (l *Log) WalkTail(window int64, fn func(h batch.Header)) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	active := l.segs[len(l.segs)-1]
	v := l.viewLocked(active)
	from := int64(0)
	if v.mem && v.limit > window {
		// Start at the last offset-index entry at or before limit-window.
		i := sort.Search(len(v.off), func(i int) bool { return int64(v.off[i].pos) > v.limit-window })
		if i > 0 {
			from = int64(v.off[i-1].pos)
		}
	}
	l.mu.RUnlock()
	defer v.seg.release()
	return v.seg.walk(from, v.limit, func(_ int64, h batch.Header) bool {
		fn(h)
		return true
	})
}
