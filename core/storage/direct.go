package storage

import (
	"fmt"
	"os"
	"unsafe"
)

// Direct I/O appends (Options.DirectIO, with Options.Fsync).
//
// The active segment of a direct log is written with O_DIRECT from an aligned
// memory buffer, the tail, instead of through the page cache:
//
//	file:  |<----------- written and synced ----------->|<-- unwritten -->
//	                                          tail.start                    size
//	tail:                                     |=====|----------------------|
//	                                           ^ the block holding the synced end,
//	                                             rewritten by the next flush
//
// Append copies each batch into the tail (a memcpy, where a buffered write
// copies into newly allocated page-cache pages, which costs several times more
// kernel CPU, and leaves the flusher's writeback to do on top). A flush pass
// writes the tail's whole blocks with one pwrite, the last partial block from a
// zero-padded copy (so no write ever reads bytes an append is filling), then
// fdatasyncs; afterwards the tail keeps only the block that holds the new
// synced end. Readers never see the difference: they read only below the high
// watermark, which in Fsync mode moves after the data is written and synced,
// so everything they read is in the file (through the ordinary buffered file
// handle; the kernel keeps its page cache coherent with direct writes).
//
// On disk the only difference is the zero padding: between flushes the file
// of the active segment may extend to the next block boundary past its last
// batch. Sealing and Close cut it off again; after a crash, recovery cuts it
// like any torn tail (it is never below the recovery point).
//
// A segment whose file system refuses O_DIRECT (tmpfs, for one) is written
// through the page cache as before; so are sealed and cleaned segments.

// dioAlign is the alignment of direct I/O offsets, lengths and buffers: the
// largest logical block size in common use, so it suits every device.
const dioAlign = 4096

// directTail is the in-memory, not yet synced end of a direct segment.
// Guarded by Log.mu, except that a flush reads bytes below the end it took
// (no append writes there) and scratch (flushes are serialised by flushMu).
type directTail struct {
	f       *os.File // the segment file opened with O_DIRECT, write only
	buf     []byte   // buf[0] is file position start; aligned to dioAlign
	start   int64    // multiple of dioAlign
	written int64    // file position up to which the tail has been written
	scratch []byte   // one aligned block: the padded last block of a flush
}

func alignDown(n int64) int64 { return n &^ (dioAlign - 1) }
func alignUp(n int64) int64   { return (n + dioAlign - 1) &^ (dioAlign - 1) }

// alignedBuf returns a zeroed slice of n bytes (a multiple of dioAlign) whose
// first byte is aligned to dioAlign.
func alignedBuf(n int) []byte {
	raw := make([]byte, n+dioAlign)
	off := int(-uintptr(unsafe.Pointer(&raw[0])) & (dioAlign - 1))
	return raw[off : off+n : off+n]
}

// direct reports whether the log appends (and so reads) with direct I/O.
func (l *Log) direct() bool {
	return l.opts.Fsync && l.opts.DirectIO && !l.noDirect.Load()
}

// attachDirect switches the active segment s to direct appends if the log
// wants them and the file system allows them. Its size must be final up to
// now (recovered or empty): the tail starts with the block holding the end.
func (l *Log) attachDirect(s *segment) error {
	if !l.direct() || s.dio != nil {
		return nil
	}
	f, err := openDirect(s.prefix + LogSuffix)
	if err != nil {
		l.noDirect.Store(true) // do not retry for every segment
		l.logger.Info("storage: direct I/O not available, writing through the page cache", "err", err)
		return nil
	}
	t := &directTail{f: f, start: alignDown(s.size), written: s.size, scratch: alignedBuf(dioAlign)}
	t.buf = alignedBuf(int(max(alignUp(s.size)-t.start, dioAlign)))[:s.size-t.start]
	if len(t.buf) > 0 {
		if _, err := s.f.ReadAt(t.buf, t.start); err != nil {
			f.Close()
			return fmt.Errorf("storage: read last block of %s: %w", s.prefix+LogSuffix, err)
		}
	}
	s.dio = t
	return nil
}

// append copies b (the batch at file position pos = s.size) into the tail.
func (t *directTail) append(b []byte, pos int64) {
	at := int(pos - t.start)
	need := at + len(b)
	if need > cap(t.buf) {
		n := max(2*cap(t.buf), int(alignUp(int64(need))))
		nb := alignedBuf(n)
		copy(nb, t.buf)
		t.buf = nb
	}
	t.buf = t.buf[:need]
	copy(t.buf[at:], b)
}

// directWrite is what one flush writes: whole blocks from the tail and a
// zero-padded copy of the partial last block.
type directWrite struct {
	t      *directTail
	start  int64  // file position of full[0]
	full   []byte // whole blocks, shared with the tail
	last   []byte // the padded last block, or nil
	end    int64  // logical end: the segment size when the flush began
	sealed bool   // cut the file to end after writing
	data   bool   // there is something to write
}

// snapshot takes what a flush must write to make the segment durable up to
// end. Call with Log.mu held.
func (t *directTail) snapshot(end int64, sealed bool) directWrite {
	w := directWrite{t: t, start: t.start, end: end, sealed: sealed, data: end != t.written}
	if !w.data {
		return w
	}
	whole := alignDown(end)
	w.full = t.buf[:whole-t.start]
	if whole < end {
		n := copy(t.scratch, t.buf[whole-t.start:end-t.start])
		clear(t.scratch[n:])
		w.last = t.scratch
	}
	return w
}

// write performs the snapshot's writes (no locks held; flushes are serialised).
func (w *directWrite) write(s *segment) error {
	if len(w.full) > 0 {
		if _, err := w.t.f.WriteAt(w.full, w.start); err != nil {
			return fmt.Errorf("write %s: %w", s.prefix+LogSuffix, err)
		}
	}
	if w.last != nil {
		if _, err := w.t.f.WriteAt(w.last, w.start+int64(len(w.full))); err != nil {
			return fmt.Errorf("write %s: %w", s.prefix+LogSuffix, err)
		}
	}
	if w.sealed {
		// A sealed segment's file ends at its last batch: no padding, no
		// reserved blocks.
		if err := s.f.Truncate(w.end); err != nil {
			return fmt.Errorf("truncate %s: %w", s.prefix+LogSuffix, err)
		}
	}
	return nil
}

// done marks the tail written up to w.end: it keeps only the block holding
// that end and what was appended after it. Call with Log.mu held.
func (t *directTail) done(w *directWrite) {
	if !w.data {
		return
	}
	t.written = w.end
	cut := alignDown(w.end) - t.start
	if cut <= 0 {
		return
	}
	n := copy(t.buf, t.buf[cut:])
	t.buf = t.buf[:n]
	t.start += cut
	// Give back a burst's buffer. Not more eagerly: growing again costs
	// fresh memory, which is slow to fault in on VMs (measured: shrinking to
	// what was left after each flush cost a quarter of the produce peak).
	if cap(t.buf) > 8<<20 && n < 1<<20 {
		nb := alignedBuf(1 << 20)
		copy(nb, t.buf)
		t.buf = nb[:n]
	}
}

func (t *directTail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}
