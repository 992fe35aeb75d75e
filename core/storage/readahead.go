package storage

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"

	"github.com/streamd/streamd/core/batch"
)

// Read-ahead for direct logs. A direct read happens only when a fetch asks,
// so a consumer that reads a partition from start to end would wait for the
// disk on every fetch. After each direct ReadFile the log reads the next
// raAhead bytes of that segment in the background, in directChunk-aligned
// chunks, into a small per-log cache; a ReadFile whose whole range is cached
// is answered from memory (FileRead.Mem).
//
// The log follows up to raStreams sequential readers at once (consumer groups
// at different positions of one partition). A stream is one reader's frontier:
// a read that starts where a stream's last read ended (or inside what it read
// ahead) continues that stream; any other read takes an idle stream, the least
// recently used one first. Each stream has at most one fill goroutine, reading
// one chunk at a time. Reads that arrive while it runs move its frontier
// forward instead of starting another, so a consumer faster than the disk
// keeps one fill busy rather than many fills starting and stopping. The chunk
// being read is visible: a ReadFile that needs it waits for that read to end
// instead of reading the same bytes again (on a disk that a sequential
// consumer nearly saturates, a second read of the chunk in flight is what made
// the consumer fall further behind), and no stream reads a chunk another one
// is reading.
//
// The cache keeps raPerStream chunks for each stream in recent use. When it is
// full it evicts a chunk a read has already taken before one read ahead and
// not taken yet: the taken chunk's reader has moved past it, while the other
// is what a reader will ask for next.
//
// Chunks hold only bytes below the readable limit at the time they were read;
// those never change for a segment (the direct tail rewrites its last block
// with identical leading bytes, and the cleaner writes new segments), so a
// chunk stays valid as long as it is cached. A chunk names its segment only to
// be found (it holds no reference, so a deleted segment's file is not kept
// open by the cache); FileReads hold a reference to the chunks they send, and
// a running fill to its segment.

const (
	raAhead     = 4 * directChunk // read this far past the end of a direct read
	raStreams   = 4               // sequential readers followed per log
	raPerStream = 8               // chunks kept per log for each stream in recent use
	raRecent    = 4 * raStreams   // a stream is in recent use if scheduled within this many schedules
	raMaxChunks = 64              // chunks in memory for all logs together (64 MiB)
)

var raChunksInUse atomic.Int64

type raChunk struct {
	seg   *segment     // identity only; nil: a direct read's chunk, not cached
	pos   int64        // file position of data[0], a multiple of directChunk
	data  []byte       // directChunk bytes when cached; a direct read's last chunk may be short
	buf   []byte       // the whole piece from ioBufs
	refs  atomic.Int32 // the cache's, plus one per FileRead sending it
	taken bool         // a read has been answered with it (readAhead.mu)
}

func (c *raChunk) release() {
	if c.refs.Add(-1) == 0 {
		ioBufs.Put(c.buf)
		if c.seg != nil {
			raChunksInUse.Add(-1)
		}
	}
}

// readAhead is one log's cache. Its lock is taken alone (never with Log.mu).
type readAhead struct {
	mu      sync.Mutex
	chunks  []*raChunk // least recently used first
	streams [raStreams]raStream
	tick    uint64 // schedules so far
	closed  bool
	wg      sync.WaitGroup
}

// raStream is one sequential reader's read-ahead. While filling, its fill
// reads the chunks of seg from `from` on that lie wholly below stop;
// schedule moves both forward. seg stays fixed while the fill runs.
type raStream struct {
	seg        *segment // identity only; nil: never used
	at         int64    // where the stream's last read ended
	from, stop int64
	used       uint64 // readAhead.tick of its last schedule
	filling    bool
	// The chunk the fill is reading now (reading < 0: none), and a channel
	// closed when that read has ended and its chunk, if any, is cached.
	reading  int64
	readDone chan struct{}
}

// lookup returns the cached chunks of seg that cover [pos, end) contiguously
// from the one holding pos (possibly fewer, possibly none), each with a
// reference taken and marked taken.
func (ra *readAhead) lookup(seg *segment, pos, end int64) []*raChunk {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	var out []*raChunk
	for p := pos &^ (directChunk - 1); p < end; p += directChunk {
		i := ra.find(seg, p)
		if i < 0 {
			break
		}
		c := ra.chunks[i]
		c.refs.Add(1)
		c.taken = true
		copy(ra.chunks[i:], ra.chunks[i+1:]) // most recently used last
		ra.chunks[len(ra.chunks)-1] = c
		out = append(out, c)
	}
	return out
}

func (ra *readAhead) find(seg *segment, pos int64) int {
	for i, c := range ra.chunks {
		if c.seg == seg && c.pos == pos {
			return i
		}
	}
	return -1
}

// schedule makes a background fill read the chunks of seg that hold bytes of
// [end, end+raAhead) and lie wholly below limit, for the reader whose read of
// seg was [pos, end): it starts one, or moves the frontier of the fill of
// that reader's stream. The first chunk a new fill reads is marked as being
// read before schedule returns, so a reader that needs it waits for it from
// the start.
func (ra *readAhead) schedule(seg *segment, pos, end, limit int64) {
	first := end &^ (directChunk - 1)
	stop := min(end+raAhead, limit)
	if first+directChunk > stop {
		return
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.closed {
		return
	}
	ra.tick++
	s := ra.streamFor(seg, pos)
	if s == nil {
		return // every stream is filling for another reader
	}
	s.used = ra.tick
	s.at = end
	if s.filling { // s.seg == seg
		s.from = max(s.from, first)
		s.stop = max(s.stop, stop)
		return
	}
	s.seg, s.from, s.stop = seg, first, stop
	p := ra.nextLocked(s, first)
	if p < 0 {
		return
	}
	s.filling = true
	s.reading, s.readDone = p, make(chan struct{})
	seg.acquire()
	ra.wg.Add(1)
	go ra.fill(s, seg)
}

// streamFor returns the stream a read of seg from pos continues, else an idle
// one to start (never used first: its used is 0, below any schedule's tick;
// then least recently used), else nil.
func (ra *readAhead) streamFor(seg *segment, pos int64) *raStream {
	var idle *raStream
	for i := range ra.streams {
		s := &ra.streams[i]
		if s.seg == seg && pos >= s.at && pos <= s.stop {
			return s
		}
		if !s.filling && (idle == nil || s.used < idle.used) {
			idle = s
		}
	}
	return idle
}

// nextLocked returns the first chunk of s's segment from p on (and from
// s.from on) that its fill should read: not cached, not being read by another
// stream, wholly below s.stop; -1 when there is none or the fill must stop
// (the log is closing, or all raMaxChunks chunks are in use and none of them
// is this cache's to give up: spareLocked).
func (ra *readAhead) nextLocked(s *raStream, p int64) int64 {
	for p = max(p, s.from); p+directChunk <= s.stop; p += directChunk {
		if ra.closed || raChunksInUse.Load() >= raMaxChunks && ra.spareLocked() < 0 {
			return -1
		}
		if ra.find(s.seg, p) < 0 && ra.readingLocked(s.seg, p) == nil {
			return p
		}
	}
	return -1
}

// readingLocked returns the stream whose fill is reading chunk p of seg, or
// nil.
func (ra *readAhead) readingLocked(seg *segment, p int64) *raStream {
	for i := range ra.streams {
		if s := &ra.streams[i]; s.filling && s.seg == seg && s.reading == p {
			return s
		}
	}
	return nil
}

// fill reads the chunk schedule marked, then the next ones nextLocked names,
// until there are none. Finishing a chunk (caching it, waking its waiters) and
// marking the next one happen under one lock, so a reader never sees the fill
// between two chunks. It holds a reference to seg, s.seg, throughout.
func (ra *readAhead) fill(s *raStream, seg *segment) {
	defer ra.wg.Done()
	defer seg.release()
	f := seg.directReader()
	ra.mu.Lock()
	for {
		p, done, stop := s.reading, s.readDone, s.stop
		ra.mu.Unlock()
		var c *raChunk
		err := errNoDirectReader
		if f != nil {
			c, err = readChunk(f, p, directChunk)
		}
		var evict []*raChunk
		ok := false
		ra.mu.Lock()
		if err == nil {
			ioStats.readAheadChunks.Add(1)
			evict, ok = ra.insertLocked(seg, c, stop, false)
			// A direct read may have cached the chunk meanwhile: go on.
			ok = ok || ra.find(seg, p) >= 0
		}
		close(done)
		next := int64(-1)
		if ok {
			next = ra.nextLocked(s, p+directChunk)
		}
		if next < 0 {
			s.filling, s.reading, s.readDone = false, -1, nil
		} else {
			s.reading, s.readDone = next, make(chan struct{})
		}
		ra.mu.Unlock()
		if c != nil {
			c.release() // the reading reference; the cache took its own
		}
		for _, e := range evict {
			e.release()
		}
		if next < 0 {
			return
		}
		ra.mu.Lock()
	}
}

var errNoDirectReader = errors.New("storage: no O_DIRECT handle")

// inFlight returns a channel closed when a fill's read of chunk p of seg has
// ended (its chunk, if any, cached), or nil when no fill is reading that chunk
// now.
func (ra *readAhead) inFlight(seg *segment, p int64) <-chan struct{} {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if s := ra.readingLocked(seg, p); s != nil {
		return s.readDone
	}
	return nil
}

// readChunk reads up to n bytes of f at p (both aligned) into a pooled buffer.
// The chunk has one reference, the caller's.
func readChunk(f *os.File, p, n int64) (*raChunk, error) {
	buf := ioBufs.Get()
	r, err := pread(f, buf[:n], p)
	ioStats.diskReadBytes.Add(int64(r))
	if err != nil {
		ioBufs.Put(buf)
		return nil, err
	}
	c := &raChunk{pos: p, buf: buf, data: buf[:r]}
	c.refs.Store(1)
	return c, nil
}

// insert caches c, a chunk of seg (taken: a read is being answered with it),
// if it is whole, at a chunk boundary and wholly below limit (the readable limit of seg when it was
// read), not cached yet, and the cache has room; the cache takes a reference
// of its own and evicts chunks past its size (capLocked). It reports whether c
// was cached.
func (ra *readAhead) insert(seg *segment, c *raChunk, limit int64, taken bool) bool {
	ra.mu.Lock()
	evict, ok := ra.insertLocked(seg, c, limit, taken)
	ra.mu.Unlock()
	for _, e := range evict {
		e.release()
	}
	return ok
}

// insertLocked is insert with ra.mu held; the caller releases the evicted
// chunks after unlocking.
func (ra *readAhead) insertLocked(seg *segment, c *raChunk, limit int64, taken bool) (evict []*raChunk, ok bool) {
	if int64(len(c.data)) != directChunk || c.pos%directChunk != 0 || c.pos+directChunk > limit || ra.closed || ra.find(seg, c.pos) >= 0 {
		return nil, false
	}
	if raChunksInUse.Add(1) > raMaxChunks {
		i := ra.spareLocked()
		if i < 0 {
			raChunksInUse.Add(-1)
			return nil, false
		}
		// Its release, after the caller unlocks, brings the count back.
		evict = append(evict, ra.chunks[i])
		ra.chunks = append(ra.chunks[:i], ra.chunks[i+1:]...)
	}
	c.seg, c.taken = seg, taken
	c.refs.Add(1)
	ra.chunks = append(ra.chunks, c)
	for keep := ra.capLocked(); len(ra.chunks) > keep; {
		i := 0 // the least recently used taken chunk, else the least recently used one
		for j, x := range ra.chunks {
			if x.taken {
				i = j
				break
			}
		}
		evict = append(evict, ra.chunks[i])
		ra.chunks = append(ra.chunks[:i], ra.chunks[i+1:]...)
	}
	return evict, true
}

// spareLocked returns the index of the least recently used chunk a read has
// taken and nothing else holds (evicting it frees its buffer), or -1: what
// the cache gives up for a new chunk when all raMaxChunks are in use, so that
// chunks already read do not stop the read-ahead of many partitions.
func (ra *readAhead) spareLocked() int {
	for i, c := range ra.chunks {
		if c.taken && c.refs.Load() == 1 {
			return i
		}
	}
	return -1
}

// capLocked is how many chunks the cache keeps: raPerStream for each stream
// scheduled in the last raRecent schedules (at least one).
func (ra *readAhead) capLocked() int {
	n := 0
	for i := range ra.streams {
		if s := &ra.streams[i]; s.seg != nil && ra.tick-s.used < raRecent {
			n++
		}
	}
	return raPerStream * max(n, 1)
}

// close waits for a running fill and drops every chunk (Log.Close).
func (ra *readAhead) close() {
	ra.mu.Lock()
	ra.closed = true
	ra.mu.Unlock()
	ra.wg.Wait()
	ra.mu.Lock()
	chunks := ra.chunks
	ra.chunks = nil
	ra.mu.Unlock()
	for _, c := range chunks {
		c.release()
	}
}

// memRange is [pos, end) of a segment held by contiguous cached chunks.
type memRange struct {
	chunks []*raChunk
	start  int64 // chunks[0].pos
}

// end is the file position after the last byte held (a direct read's last
// chunk may be short).
func (m memRange) end() int64 {
	last := m.chunks[len(m.chunks)-1]
	return last.pos + int64(len(last.data))
}

// walk returns the end of the whole batches from pos (the first one first
// bytes long, which the range must hold) up to min(limit, m.end()).
func (m memRange) walk(pos, first, limit int64) int64 {
	return walkPieces(m.at, pos, first, min(limit, m.end()))
}

// at returns the bytes held from file position p to the end of its chunk.
func (m memRange) at(p int64) []byte {
	c := m.chunks[(p-m.start)/directChunk]
	return c.data[p-c.pos:]
}

func (m memRange) release() {
	for _, c := range m.chunks {
		c.release()
	}
}

// readHeader reads the batch header at pos of seg, from the tail or the
// read-ahead cache when they hold it (a direct log's file is not in the page
// cache).
func (l *Log) readHeader(seg *segment, pos int64, buf *[batch.HeaderLen]byte) (batch.Header, error) {
	if l.direct() && (l.tailCopyAt(seg, pos, buf[:]) || l.ra.copyAt(seg, pos, buf[:])) {
		return batch.ParseHeader(buf[:])
	}
	return seg.readHeader(pos, buf)
}

// copyAt copies the bytes at pos of seg into dst if the cache holds them all.
func (ra *readAhead) copyAt(seg *segment, pos int64, dst []byte) bool {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for len(dst) > 0 {
		c := pos &^ (directChunk - 1)
		i := ra.find(seg, c)
		if i < 0 {
			return false
		}
		n := copy(dst, ra.chunks[i].data[pos-c:])
		dst, pos = dst[n:], pos+int64(n)
	}
	return true
}
