package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/streamd/streamd/core/batch"
)

// Suffixes of the swap protocol's files (see compact.go); Open deletes them.
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// compactChunk is how much of a segment a pass reads at a time.
const compactChunk = 1 << 20

// cleanScratch is what one pass reuses for every batch: the read buffer, the
// codec state and the buffers of rewritten batches. Passes take one from
// scratchPool, so a cleaner going over many partitions allocates them once.
type cleanScratch struct {
	read   []byte       // chunk of a segment (compactChunk, more for a larger batch)
	copy   []byte       // copying an unchanged prefix (copyChunk)
	codecs batch.Codecs // decompression and compression into reused buffers
	kept   []byte       // encodings of the records a rewritten batch keeps
	out    []byte       // a rewritten batch
	w      *bufio.Writer
	dread  []byte // direct logs: aligned read buffer (compactChunk + 2 blocks, more for a larger batch)
	dcopy  []byte // direct logs: aligned buffer for copying an unchanged prefix (copyChunk + 2 blocks)
	dw     directFileWriter
	direct bool // the pass's log is direct: read and write with O_DIRECT
}

// copyChunk is the buffer size for copying unchanged bytes to a cleaned file.
const copyChunk = 256 << 10

var scratchPool = sync.Pool{New: func() any {
	return &cleanScratch{read: make([]byte, compactChunk), w: bufio.NewWriterSize(nil, compactChunk)}
}}

// forEachBatch calls fn with every batch of s's first size bytes, in order,
// and its position in the segment. b aliases a buffer reused for the next
// call. Reads count against th.
func (sc *cleanScratch) forEachBatch(s *segment, size int64, th *throttle, fn func(b []byte, h batch.Header, pos int64) error) error {
	pos := int64(0)
	for pos < size {
		want := min(size-pos, int64(len(sc.read)))
		chunk, err := sc.readAt(s, pos, want)
		if err != nil {
			return fmt.Errorf("storage: compact: read segment %d: %w", s.base, err)
		}
		if err := th.add(len(chunk)); err != nil {
			return err
		}
		off := 0
		for off+batch.LogOverhead <= len(chunk) {
			total := int(int32(binary.BigEndian.Uint32(chunk[off+8:]))) + batch.LogOverhead
			if total < batch.HeaderLen || pos+int64(off)+int64(total) > size {
				return fmt.Errorf("%w: segment %d position %d", errBadBatch, s.base, pos+int64(off))
			}
			if off+total > len(chunk) {
				break
			}
			h, err := batch.ParseHeader(chunk[off : off+total])
			if err != nil {
				return fmt.Errorf("storage: compact: segment %d position %d: %w", s.base, pos+int64(off), err)
			}
			if err := fn(chunk[off:off+total], h, pos+int64(off)); err != nil {
				return err
			}
			off += total
		}
		if off == 0 { // one batch larger than the buffer: grow it
			total := int(int32(binary.BigEndian.Uint32(chunk[8:]))) + batch.LogOverhead
			sc.read = make([]byte, total)
			if sc.dread != nil {
				sc.dread = alignedBuf(int(alignUp(int64(total))) + 2*dioAlign)
			}
			continue
		}
		pos += int64(off)
	}
	if len(sc.read) > compactChunk { // do not keep a huge buffer pooled
		sc.read = make([]byte, compactChunk)
		if sc.dread != nil {
			sc.dread = alignedBuf(compactChunk + 2*dioAlign)
		}
	}
	return nil
}

// readAt returns want bytes of s at pos, read into a reused buffer: with
// O_DIRECT when s belongs to a direct log (its data is not in the page cache,
// and a cleaner pass should not fill it), else through the page cache.
func (sc *cleanScratch) readAt(s *segment, pos, want int64) ([]byte, error) {
	return sc.readSegment(s, pos, want, &sc.dread, max(len(sc.read), compactChunk)+2*dioAlign, sc.read)
}

// readSegment reads n bytes of s at pos: with O_DIRECT into *dbuf (allocated
// aligned, dsize bytes, on first use) when the pass reads directly, else into
// plain.
func (sc *cleanScratch) readSegment(s *segment, pos, n int64, dbuf *[]byte, dsize int, plain []byte) ([]byte, error) {
	if f := sc.directFile(s); f != nil {
		if *dbuf == nil {
			*dbuf = alignedBuf(dsize)
		}
		return preadAligned(f, *dbuf, pos, n)
	}
	buf := plain[:n]
	if r, err := s.f.ReadAt(buf, pos); err != nil && !(errors.Is(err, io.EOF) && int64(r) == n) {
		return nil, err
	}
	return buf, nil
}

// cleanerReadPiece is the size of one direct read of the cleaner. A produce
// sync that reaches the disk behind a cleaner read waits for it: on the
// development VM a 1 MiB read takes about 0.85 ms, a 64 KiB one 0.12 ms and a
// 32 KiB one 0.06 ms; in the cleaner benchmark, 1 MiB reads put the produce
// p99 while cleaning at 1.6-2.3 ms, 64 KiB ones at 0.8-1.4 ms and 32 KiB ones
// at 0.7-1.1 ms in most runs, for a pass 50-80% slower (docs/benchmarks.md,
// "Compaction").
const cleanerReadPiece = 32 << 10

// preadAligned reads n bytes of f (an O_DIRECT handle) at pos into buf (aligned,
// at least n plus two blocks long) with aligned reads of at most
// cleanerReadPiece, and returns them.
func preadAligned(f *os.File, buf []byte, pos, n int64) ([]byte, error) {
	aoff := alignDown(pos)
	skip := pos - aoff
	end := alignUp(skip + n)
	at := int64(0)
	for at < end {
		want := min(end-at, cleanerReadPiece)
		r, err := pread(f, buf[at:at+want], aoff+at)
		if err != nil {
			return nil, err
		}
		at += int64(r)
		if int64(r) < want { // the end of the file
			break
		}
	}
	if at < skip+n {
		return nil, io.ErrUnexpectedEOF
	}
	return buf[skip : skip+n], nil
}

// directFile returns s's O_DIRECT read handle if the pass reads directly.
func (sc *cleanScratch) directFile(s *segment) *os.File {
	if !sc.direct {
		return nil
	}
	return s.directReader()
}

// recordData returns the (decompressed) record bytes of the batch b.
func (sc *cleanScratch) recordData(b []byte, h batch.Header) ([]byte, error) {
	data, err := sc.codecs.RecordData(b, h, 0)
	if err != nil {
		return nil, fmt.Errorf("storage: compact: batch at offset %d: %w", h.BaseOffset, err)
	}
	return data, nil
}

// filter decides which records a pass keeps.
type filter struct {
	latest  *offsetMap // key -> latest offset in the dirty part below end
	end     int64      // records from this offset on are kept as they are
	horizon int64      // tombstones with a timestamp below are removed
}

// keep reports whether record r of the batch with header h survives.
func (f *filter) keep(h *batch.Header, r *batch.Record) bool {
	off := h.BaseOffset + int64(r.OffsetDelta)
	if off >= f.end {
		return true
	}
	if r.Key == nil {
		return false
	}
	if last, ok := f.latest.get(r.Key); ok && last > off {
		return false
	}
	if r.Value != nil {
		return true
	}
	ts := h.BaseTimestamp + r.TimestampDelta
	if h.LogAppendTime() {
		ts = h.MaxTimestamp
	}
	return ts >= f.horizon
}

// rebuild returns b filtered by f: b itself (same true) when every record
// stays, nil when none does (unless last: then an empty batch with b's
// offsets and header fields). A batch that loses some records is rebuilt
// from the encodings of the others, as they are, with b's codec and header
// fields (batch.Codecs.AppendBatch): records are never re-encoded. The
// result aliases sc's buffers until the next call.
func (f *filter) rebuild(sc *cleanScratch, b []byte, h batch.Header, last bool) (out []byte, same bool, err error) {
	if h.Control() || h.BaseOffset >= f.end {
		return b, true, nil
	}
	data, err := sc.recordData(b, h)
	if err != nil {
		return nil, false, err
	}
	kept, n, at := sc.kept[:0], int32(0), 0
	dropped := false
	it := batch.NewRecordIter(data, h.NumRecords)
	var r batch.Record
	for enc, ok := it.Next(&r); ok; enc, ok = it.Next(&r) {
		switch {
		case !f.keep(&h, &r):
			if !dropped {
				kept = append(kept, data[:at]...) // every record so far stays
				dropped = true
			}
		case dropped:
			kept = append(kept, enc...)
			n++
		default:
			n++
		}
		at += len(enc)
	}
	sc.kept = kept[:0]
	if err := it.Err(); err != nil {
		return nil, false, fmt.Errorf("storage: compact: batch at offset %d: %w", h.BaseOffset, err)
	}
	if !dropped {
		return b, true, nil
	}
	if n == 0 && !last {
		return nil, false, nil
	}
	codec := h.Codec()
	if n == 0 {
		codec = batch.CodecNone
	}
	sc.out, err = sc.codecs.AppendBatch(sc.out[:0], h, codec, kept, n)
	if err != nil {
		return nil, false, fmt.Errorf("storage: compact: batch at offset %d: %w", h.BaseOffset, err)
	}
	return sc.out, false, nil
}

// cleanedFile is the cleaned copy of one segment being written. It is created
// at the first batch that changes; the unchanged batches before it are copied
// from the segment then, so a segment the pass leaves as it is costs no write.
type cleanedFile struct {
	l    *Log
	s    *segment
	sc   *cleanScratch
	th   *throttle
	size int64 // expected upper bound: the old segment's size
	f    *os.File
	pos  int64 // bytes written (or, before f exists, bytes unchanged)
	// Written bytes not yet handed to writeback, and the range handed to it
	// last, waited for at the next step.
	unsynced           int64
	prevFrom, prevSize int64
	direct             bool // f is O_DIRECT: written through sc.dw
}

// open creates the file and copies the segment's first pos bytes into it.
func (cf *cleanedFile) open() error {
	s := cf.s
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if cf.sc.direct {
		flags |= directFlag | directSyncFlag
	}
	f, err := os.OpenFile(s.prefix+LogSuffix+cleanedSuffix, flags, 0o644)
	if err != nil && cf.sc.direct { // refused: write through the page cache
		flags &^= directFlag | directSyncFlag
		f, err = os.OpenFile(s.prefix+LogSuffix+cleanedSuffix, flags, 0o644)
	}
	if err != nil {
		return fmt.Errorf("storage: compact: %w", err)
	}
	cf.f = f
	// Reserve the blocks up front (an optimisation: no block allocation, and
	// so no ordered-data journal flush, while the produce path syncs).
	_ = fallocKeepSize(f, 0, cf.size)
	if flags&directFlag != 0 {
		cf.sc.dw.reset(f)
		cf.direct = true
	} else {
		cf.sc.w.Reset(f)
	}
	if cf.pos == 0 {
		return nil
	}
	if cf.sc.copy == nil {
		cf.sc.copy = make([]byte, copyChunk)
	}
	n := cf.pos
	cf.pos = 0
	for from := int64(0); from < n; {
		buf, err := cf.sc.copyAt(s, from, min(int64(len(cf.sc.copy)), n-from))
		if err != nil {
			return fmt.Errorf("storage: compact: read segment %d: %w", s.base, err)
		}
		if err := cf.th.add(len(buf)); err != nil {
			return err
		}
		if err := cf.write(buf); err != nil {
			return err
		}
		from += int64(len(buf))
	}
	return nil
}

// write appends b. Every cleanerSyncEvery bytes it starts writeback of what
// was written and waits for the previous step's, so dirty data never piles
// up into a burst that the produce path's small syncs on the same disk would
// wait for (a cache flush has to write out whatever is pending), and no
// journal commit happens before the final sync.
func (cf *cleanedFile) write(b []byte) error {
	if cf.direct { // straight to the disk: nothing piles up in the page cache
		if err := cf.sc.dw.write(b); err != nil {
			return fmt.Errorf("storage: compact: write: %w", err)
		}
		cf.pos += int64(len(b))
		return cf.th.add(len(b))
	}
	if _, err := cf.sc.w.Write(b); err != nil {
		return fmt.Errorf("storage: compact: write: %w", err)
	}
	cf.pos += int64(len(b))
	if cf.unsynced += int64(len(b)); cf.unsynced >= cleanerSyncEvery {
		if err := cf.sc.w.Flush(); err != nil {
			return fmt.Errorf("storage: compact: write: %w", err)
		}
		from := cf.pos - cf.unsynced
		if err := writeback(cf.f, from, cf.unsynced, cf.prevFrom, cf.prevSize); err != nil {
			return fmt.Errorf("storage: compact: sync: %w", err)
		}
		cf.prevFrom, cf.prevSize, cf.unsynced = from, cf.unsynced, 0
	}
	return cf.th.add(len(b))
}

// finish flushes and syncs the file and gives back reserved blocks past its
// end.
func (cf *cleanedFile) finish() error {
	var err error
	if cf.direct {
		err = cf.sc.dw.finish()
	} else {
		err = cf.sc.w.Flush()
	}
	if err == nil {
		err = cf.f.Truncate(cf.pos)
	}
	if err == nil {
		err = fdatasync(cf.f)
	}
	if err != nil {
		return fmt.Errorf("storage: compact: write %s: %w", cf.f.Name(), err)
	}
	return nil
}

// cleanSegment writes the filtered copy of p's segment to <base>.*.cleaned
// (fsynced). It returns the new size and whether anything changed; when
// nothing did, no file was written.
func (l *Log) cleanSegment(p planSeg, f *filter, th *throttle, sc *cleanScratch) (int64, bool, error) {
	s := p.v.seg
	removeCleaned := func() {
		for _, suf := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
			os.Remove(s.prefix + suf + cleanedSuffix)
		}
	}
	cf := &cleanedFile{l: l, s: s, sc: sc, th: th, size: p.size}
	m := &memIndex{}
	err := sc.forEachBatch(s, p.size, th, func(b []byte, h batch.Header, _ int64) error {
		last := h.NextOffset() >= p.v.next
		nb, same, err := f.rebuild(sc, b, h, last)
		if err != nil {
			return err
		}
		if err := th.work(len(b)); err != nil {
			return err
		}
		if cf.f == nil && !same {
			if err := cf.open(); err != nil {
				return err
			}
		}
		if nb == nil {
			return nil
		}
		m.add(uint32(h.BaseOffset-s.base), cf.pos, h.MaxTimestamp, s.interval)
		if cf.f == nil {
			cf.pos += int64(len(nb)) // unchanged so far: nothing to write yet
			return nil
		}
		return cf.write(nb)
	})
	changed := cf.f != nil
	if err == nil && changed {
		err = cf.finish()
	}
	if cf.f != nil {
		if cerr := cf.f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		cf.sc.w.Reset(nil)
		cf.sc.dw.reset(nil)
	}
	if err == nil && changed {
		err = writeSynced(s.prefix+IndexSuffix+cleanedSuffix, appendOffEntries(nil, m.off))
		if err == nil {
			err = writeSynced(s.prefix+TimeIndexSuffix+cleanedSuffix, appendTsEntries(nil, m.ts))
		}
	}
	if err != nil || !changed {
		if changed || cf.f != nil {
			removeCleaned()
		}
		return 0, false, err
	}
	return cf.pos, true, hook("cleaned-written", s.base)
}

// cleanerSyncEvery is how many cleaned bytes are written between writeback
// steps.
const cleanerSyncEvery = 128 << 10

// copyAt reads n bytes of s at pos for copying an unchanged prefix.
// Its buffer is not the one forEachBatch walks: the copy happens in the middle
// of that walk.
func (sc *cleanScratch) copyAt(s *segment, pos, n int64) ([]byte, error) {
	return sc.readSegment(s, pos, n, &sc.dcopy, copyChunk+2*dioAlign, sc.copy)
}

// cleanerWriteChunk is the size of one direct write of the cleaner.
const cleanerWriteChunk = 256 << 10

// directFileWriter writes a file from position 0 with O_DIRECT through an
// aligned buffer: whole buffers as they fill, the zero-padded rest at finish
// (the caller then truncates the file to its real size).
type directFileWriter struct {
	f   *os.File
	buf []byte // aligned, compactChunk
	n   int    // bytes buffered
	off int64  // file position of buf[0]
}

func (w *directFileWriter) reset(f *os.File) {
	w.f, w.n, w.off = f, 0, 0
	if f != nil && w.buf == nil {
		w.buf = alignedBuf(cleanerWriteChunk)
	}
}

func (w *directFileWriter) write(b []byte) error {
	for len(b) > 0 {
		c := copy(w.buf[w.n:], b)
		w.n += c
		b = b[c:]
		if w.n == len(w.buf) {
			if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
				return err
			}
			w.off += int64(w.n)
			w.n = 0
		}
	}
	return nil
}

func (w *directFileWriter) finish() error {
	if w.n == 0 {
		return nil
	}
	end := int(alignUp(int64(w.n)))
	clear(w.buf[w.n:end])
	_, err := w.f.WriteAt(w.buf[:end], w.off)
	return err
}
