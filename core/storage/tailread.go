package storage

import "time"

// Reads of the log end from memory. A consumer that keeps up with its
// producer asks, fetch after fetch, for what the last flush made readable.
// Those bytes are still in the direct tail's chunks (the tail keeps up to
// tailKeep bytes below its synced end, direct.go), so readTail sends them from
// there instead of reading them back from the disk, as the page cache would
// for a buffered log. The read holds a reference to each chunk it sends, so
// no chunk goes back to the slab (and to another tail) while it is sent.
// Appends only write past the log end, so the bytes sent never change.

// tailView is a contiguous run of tail chunks, the first at file position
// start, each with a reference taken.
type tailView struct {
	chunks []*tailBuf
	start  int64
}

// tailRange returns the chunks of seg's tail holding [pos, to), or false when
// the tail does not hold all of [pos, need) (need <= to) below its synced end.
// to is cut to the synced end. near reports (either way) whether pos is within
// tailKeep of the synced end of seg's tail.
func (l *Log) tailRange(seg *segment, pos, need, to int64) (v tailView, end int64, near, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	t := seg.dio
	if t == nil {
		return tailView{}, 0, false, false
	}
	near = t.synced-pos <= tailKeep
	if pos < t.base || need > t.synced || need <= pos {
		return tailView{}, 0, near, false
	}
	to = min(to, t.synced)
	i0, i1 := (pos-t.base)/tailChunk, (to-1-t.base)/tailChunk
	v = tailView{chunks: make([]*tailBuf, 0, i1-i0+1), start: t.base + i0*tailChunk}
	for _, c := range t.chunks[i0 : i1+1] {
		c.refs.Add(1)
		v.chunks = append(v.chunks, c)
	}
	return v, to, near, true
}

// tailReaders reports whether a read asked for bytes near the log end within
// tailReadFor of now (unix ns).
func (l *Log) tailReaders(now int64) bool {
	return now-l.tailRead.Load() < tailReadFor
}

// readTail answers a read of seg from the tail when it holds the first batch
// (first bytes at pos): the whole batches up to limit that it holds. On
// success res holds seg's reference and the chunks'. A read within tailKeep of
// the synced end is noted, answered or not, so that flushes keep tail chunks
// for the reads after it (done).
func (l *Log) readTail(res *FileRead, seg *segment, pos, first, limit int64) bool {
	v, to, near, ok := l.tailRange(seg, pos, pos+first, max(limit, pos+first))
	if near {
		if now := time.Now().UnixNano(); now-l.tailRead.Load() > tailReadFor/10 {
			l.tailRead.Store(now)
		}
	}
	if !ok {
		return false
	}
	end := walkPieces(v.at, pos, first, min(limit, to))
	ioStats.tailReads.Add(1)
	ioStats.tailReadBytes.Add(end - pos)
	res.Mem, res.File, res.Pos, res.Len = appendPieces(nil, v.at, pos, end), seg.f, pos, end-pos
	res.release = func() { v.release(); seg.release() }
	return true
}

// tailCopyAt copies the bytes at pos of seg into dst if the tail holds them
// all below its synced end.
func (l *Log) tailCopyAt(seg *segment, pos int64, dst []byte) bool {
	v, _, _, ok := l.tailRange(seg, pos, pos+int64(len(dst)), pos+int64(len(dst)))
	if !ok {
		return false
	}
	copyPieces(dst, v.at, pos)
	v.release()
	return true
}

// at returns the bytes held from file position p to the end of its chunk.
func (v tailView) at(p int64) []byte {
	return v.chunks[(p-v.start)/tailChunk].b[(p-v.start)%tailChunk:]
}

func (v tailView) release() {
	for _, c := range v.chunks {
		c.release()
	}
}
