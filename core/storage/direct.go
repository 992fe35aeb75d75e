package storage

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Direct I/O appends (Options.DirectIO, with Options.Fsync).
//
// The active segment of a direct log is written with O_DIRECT from aligned
// memory, the tail, instead of through the page cache:
//
//	file:  |<------- synced ------->|<- written, not synced ->|<-- unwritten -->
//	                          synced^                  final^           size^
//	tail:  chunks of tailChunk bytes from base (the block holding synced) up to size
//
// Append copies each batch into the tail (a memcpy, where a buffered write
// copies into newly allocated page-cache pages, which costs several times more
// kernel CPU, and leaves the flusher's writeback to do on top). The tail is a
// list of fixed-size aligned chunks taken from a shared slab (iomem.go), so appends
// never move bytes already in memory and the chunks stay faulted in.
//
// Two kinds of writes put the tail on disk; both hold the tail's ioMu, so no
// two writes of one file are ever in flight at once:
//
//   - The write-behind: once an append leaves writeBehindMin bytes of whole
//     blocks past final, a goroutine writes them (one pwritev, no sync) and
//     moves final up. It keeps the disk busy while requests arrive, so a flush
//     finds little left to write however large the requests are.
//   - A flush pass makes the segment durable up to the size it saw: it writes
//     the whole blocks from final on and the last partial block from a
//     zero-padded copy (so no write ever reads bytes an append is filling),
//     releases ioMu and fdatasyncs. The write-behind may write the next
//     blocks during that fdatasync.
//
// Every block below final is on disk with its final content; the padded block
// a flush writes is not final, and the next write of that block (a flush or
// the write-behind) rewrites it. A block is only ever written with bytes that
// will not change, plus zeros past the end, so any order in which such writes
// reach the disk leaves every synced byte intact. Chunks wholly below the
// block holding synced go back to the slab after the flush.
//
// Readers never see the difference: they read only below the high watermark,
// which in Fsync mode moves after the data is written and synced, so
// everything they read is in the file (through the ordinary buffered file
// handle; the kernel keeps its page cache coherent with direct writes).
//
// On disk the differences are the zero padding and the write-behind: between
// flushes the file of the active segment may extend past its last synced
// batch, with zeros or with whole blocks of later batches. Sealing and Close
// cut it at the last batch; after a crash, recovery keeps the whole batches
// it finds and cuts the rest like any torn tail (it is never below the
// recovery point).
//
// A segment whose file system refuses O_DIRECT (tmpfs, for one) is written
// through the page cache as before; so are sealed and cleaned segments.

// dioAlign is the alignment of direct I/O offsets, lengths and buffers: the
// largest logical block size in common use, so it suits every device.
const dioAlign = 4096

// Tail sizing. tailChunk is the unit of tail memory; writeBehindMin is how
// many bytes of whole blocks an append leaves unwritten before the
// write-behind starts; tailChunksMax bounds the chunks of tailBufs.
const (
	tailChunk      = 64 << 10
	writeBehindMin = 256 << 10
	tailChunksMax  = 1024 // 64 MiB
)

// tailBufs holds the memory of every tail chunk (iomem.go): reused, so it
// stays faulted in (fresh memory is slow to fault in on VMs: growing a tail
// buffer afresh for each burst cost a quarter of the produce peak), and in
// huge pages where the platform has them, so each chunk a write names is one
// segment of the request.
var tailBufs = ioSlab{size: tailChunk, n: tailChunksMax, heapOnly: raceEnabled}

// tailBuf is one chunk of a tail. Reads of the log end may send its bytes
// (readTail), so it goes back to the slab only when the tail and every
// such read have let it go.
type tailBuf struct {
	b    []byte
	refs atomic.Int32 // the tail's, plus one per FileRead sending from it
}

func newTailBuf() *tailBuf {
	c := &tailBuf{b: tailBufs.Get()}
	c.refs.Store(1)
	return c
}

func (c *tailBuf) release() {
	if c.refs.Add(-1) == 0 {
		if scribbleFreed {
			for i := range c.b {
				c.b[i] = 0xa5
			}
		}
		tailBufs.Put(c.b)
	}
}

// scribbleFreed makes tests overwrite a tail chunk when it is freed, so that
// a read still sending it would send garbage (and fail its CRC check).
var scribbleFreed = false

// Tail chunks wholly below the block holding the synced end are no longer
// needed to write the file. While a log has a reader near its end (one asked
// for bytes within tailKeep of it in the last tailReadFor), its tail keeps up
// to tailKeep bytes of them, so that a consumer keeping up with its producer is
// answered from memory (readTail). All tails together keep at most tailKeptMax
// chunks that way, shared evenly among the tails keeping some.
const (
	tailKeep    = 4 << 20
	tailReadFor = int64(time.Second)
	tailKeptMax = 512 // 32 MiB
)

var (
	tailKept    atomic.Int64 // chunks kept that way by every tail
	tailKeepers atomic.Int64 // tails keeping at least one
)

// directTail is the in-memory, not yet synced end of a direct segment.
// Its fields are guarded by Log.mu, except scratch and iov (ioMu). Writes
// read chunk bytes below the size they took without Log.mu: appends never
// write there, and chunks are only released below the synced end, which no
// write in flight reaches back to.
type directTail struct {
	f      *os.File   // the segment file opened with O_DIRECT, write only; nil once closed
	chunks []*tailBuf // chunks[i] holds file positions [base+i*tailChunk, base+(i+1)*tailChunk)
	base   int64      // multiple of dioAlign
	synced int64      // file position up to which the tail is written and synced
	final  int64      // multiple of dioAlign: every block below it is on disk, final
	kept   int        // leading chunks kept for readers only (counted in tailKept)
	// behind is set while a write-behind goroutine runs for this tail.
	behind bool

	// ioMu is held by whoever writes the file (a flush, the write-behind).
	// Lock order: Log.flushMu, ioMu, Log.mu.
	ioMu    sync.Mutex
	scratch []byte   // one aligned block: the padded last block of a flush
	iov     [][]byte // the pieces of the write in progress
}

func alignDown(n int64) int64 { return n &^ (dioAlign - 1) }
func alignUp(n int64) int64   { return (n + dioAlign - 1) &^ (dioAlign - 1) }

// alignedBuf returns a zeroed slice of n bytes (a multiple of dioAlign) whose
// first byte is aligned to dioAlign.
func alignedBuf(n int) []byte {
	raw := make([]byte, n+dioAlign)
	off := int(-uintptrOf(&raw[0]) & (dioAlign - 1))
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
	t := &directTail{f: f, base: alignDown(s.size), synced: s.size, final: alignDown(s.size), scratch: alignedBuf(dioAlign)}
	if part := s.size - t.base; part > 0 {
		t.chunks = append(t.chunks, newTailBuf())
		if _, err := s.f.ReadAt(t.chunks[0].b[:part], t.base); err != nil {
			t.close()
			return fmt.Errorf("storage: read last block of %s: %w", s.prefix+LogSuffix, err)
		}
	}
	s.dio = t
	return nil
}

// at returns the tail memory from file position pos to the end of its chunk.
func (t *directTail) at(pos int64) []byte {
	return t.chunks[(pos-t.base)/tailChunk].b[(pos-t.base)%tailChunk:]
}

// append copies b (the batch at file position pos = s.size) into the tail.
func (t *directTail) append(b []byte, pos int64) {
	for len(b) > 0 {
		for pos-t.base >= int64(len(t.chunks))*tailChunk {
			t.chunks = append(t.chunks, newTailBuf())
		}
		n := copy(t.at(pos), b)
		b, pos = b[n:], pos+int64(n)
	}
}

// wantsWriteBehind reports whether an append up to size leaves enough whole
// blocks unwritten to start the write-behind. Call with Log.mu held.
func (t *directTail) wantsWriteBehind(size int64) bool {
	return !t.behind && t.f != nil && alignDown(size)-t.final >= writeBehindMin
}

// writeBehind writes the whole blocks of s's tail past final until fewer than
// writeBehindMin are left (see the comment at the top). It holds a reference
// to s, taken by the appender that started it.
func (l *Log) writeBehind(s *segment, t *directTail) {
	defer l.behindWG.Done()
	defer s.release()
	for {
		t.ioMu.Lock()
		l.mu.Lock()
		f, from, to := t.f, t.final, alignDown(s.size)
		if f == nil || l.closed || l.err != nil || to-from < writeBehindMin {
			t.behind = false
			l.mu.Unlock()
			t.ioMu.Unlock()
			return
		}
		t.iov = appendPieces(t.iov[:0], t.at, from, to)
		l.mu.Unlock()
		err := pwritev(f, t.iov, from)
		clear(t.iov)
		l.mu.Lock()
		if err != nil {
			l.failLocked(fmt.Errorf("write %s: %w", s.prefix+LogSuffix, err))
		} else {
			t.final = max(t.final, to)
		}
		l.mu.Unlock()
		t.ioMu.Unlock()
	}
}

// writeTail is a flush's write of s's tail: everything not yet on disk up to
// end (the size the flush took), the last partial block zero-padded; a sealed
// segment's file is then cut at end.
func (l *Log) writeTail(s *segment, t *directTail, end int64, sealed bool) error {
	t.ioMu.Lock()
	defer t.ioMu.Unlock()
	l.mu.Lock()
	f, from, whole := t.f, t.final, alignDown(end)
	t.iov = t.iov[:0]
	if end > t.synced && whole > from {
		t.iov = appendPieces(t.iov, t.at, from, whole)
	}
	if end > t.synced && end > whole && whole >= from {
		n := copy(t.scratch, t.at(whole)[:end-whole])
		clear(t.scratch[n:])
		t.iov = append(t.iov, t.scratch)
	}
	l.mu.Unlock()
	if len(t.iov) > 0 {
		err := pwritev(f, t.iov, from)
		clear(t.iov)
		if err != nil {
			return fmt.Errorf("write %s: %w", s.prefix+LogSuffix, err)
		}
	}
	if sealed {
		// A sealed segment's file ends at its last batch: no padding, no
		// reserved blocks.
		if err := s.f.Truncate(end); err != nil {
			return fmt.Errorf("truncate %s: %w", s.prefix+LogSuffix, err)
		}
	}
	l.mu.Lock()
	t.final = max(t.final, whole)
	l.mu.Unlock()
	return nil
}

// done marks the tail synced up to end and gives back the chunks wholly
// below the block holding it, except (keep: the log has a reader near its end)
// the last tailKeep bytes of them while tailKept allows. Call with Log.mu held.
func (t *directTail) done(end int64, keep bool) {
	t.synced = max(t.synced, end)
	free := alignDown(t.synced) // chunks wholly below it may go
	k := 0
	for k < len(t.chunks) && t.base+int64(k+1)*tailChunk <= free {
		k++
	}
	share := tailKeptMax / max(tailKeepers.Load()+1, 1) // room for this tail to join
	if t.kept > 0 {
		share = tailKeptMax / max(tailKeepers.Load(), 1)
	}
	n := 0
	for n < k {
		over := int64(k-n) > share || tailKept.Load()-int64(t.kept)+int64(k-n) > tailKeptMax
		if keep && t.base+tailChunk > free-tailKeep && !over {
			break
		}
		t.chunks[n].release()
		t.chunks[n] = nil
		t.base += tailChunk
		n++
	}
	if n > 0 {
		m := copy(t.chunks, t.chunks[n:])
		clear(t.chunks[m:])
		t.chunks = t.chunks[:m]
	}
	t.setKept(k - n)
}

// setKept records that the tail keeps n chunks for readers (tailKept,
// tailKeepers).
func (t *directTail) setKept(n int) {
	switch {
	case n > 0 && t.kept == 0:
		tailKeepers.Add(1)
	case n == 0 && t.kept > 0:
		tailKeepers.Add(-1)
	}
	tailKept.Add(int64(n - t.kept))
	t.kept = n
}

// close closes the direct file and gives back the chunks. The caller makes
// sure no write is in flight: it holds ioMu, or the segment's last reference.
func (t *directTail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	for i, c := range t.chunks {
		c.release()
		t.chunks[i] = nil
	}
	t.chunks = nil
	t.setKept(0)
}
