package storage

import (
	"sync"
	"unsafe"
)

// Memory for direct I/O. Every O_DIRECT read lands in a buffer of
// directChunk bytes from ioBufs, and every tail chunk a direct write sends
// comes from tailBufs (direct.go): slabs of pieces carved in order from one
// anonymous mapping outside the Go heap each (mapIOMem), which on Linux asks
// for transparent huge pages. Pieces go back to the slab when the last
// reference to their chunk is released, and are reused; once every piece is
// out, the log falls back to heap buffers (dropped to the GC after use).
//
// Why huge pages: a read request names the memory it fills as a list of
// physically contiguous segments. A 1 MiB heap buffer is up to 256 separate
// 4 KiB pages, which the block layer splits into two requests (the
// development VM's virtio disk takes at most 254 segments), and that disk
// costs its host time per segment: reading 3 GiB with 1 MiB O_DIRECT reads at
// queue depth 1 per file ran at 1.1-1.4 GB/s into heap buffers and at
// 2.4-2.7 GB/s into buffers inside 2 MiB huge pages, where each read is one
// request of one segment (docs/benchmarks.md). A sequential consumer of a
// direct log reads at the disk's speed at most (the read-ahead,
// readahead.go): a kgo consumer read back at 950-1,080 MiB/s with the disk
// busy 89-99% of the time before, and at 1,050-1,300 MiB/s (its own CPU)
// with the disk busy about half the time now. Writes name one segment per
// 64 KiB chunk, and the disk was busy 3.6 s instead of 4.6-5.1 s during an
// 8 s produce peak. Where huge pages are unavailable the pieces are ordinary pages, as
// fast as heap buffers.
//
// Pieces stay mapped (and, once touched, resident) for the life of the
// process, so they are never faulted in twice; ioBufsMax and tailChunksMax
// (direct.go) bound them.

// ioBufsMax is the number of read buffers in the slab: raMaxChunks for the
// read-ahead cache and 32 more for direct reads and chunks still being sent.
const ioBufsMax = raMaxChunks + 32

var ioBufs = ioSlab{size: directChunk, n: ioBufsMax, heapOnly: raceEnabled}

// hugePage is the size and alignment of a transparent huge page on the
// platforms that have them.
const hugePage = 2 << 20

// ioSlab hands out pieces of size bytes (a multiple of dioAlign that divides
// hugePage, so none straddles a huge page), at most n from its mapping.
type ioSlab struct {
	size, n int
	// heapOnly: the pieces are heap buffers, not a mapping (under the race
	// detector, which sees only the Go heap); they are counted, kept and
	// reused all the same, so tests run the same code.
	heapOnly bool

	once sync.Once
	mem  []byte // hugePage-aligned; nil when the mapping failed

	mu     sync.Mutex
	carve  int            // pieces of mem handed out at least once
	free   [][]byte       // pieces given back
	heap   int64          // buffers taken from the heap because every piece was out
	pieces map[*byte]bool // heapOnly: the pieces' first bytes
}

// stats returns the bytes of the pieces handed out at least once (resident
// since) and how many heap buffers stood in for pieces.
func (s *ioSlab) stats() (carved, heap int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.carve) * int64(s.size), s.heap
}

// Get returns a piece (aligned to dioAlign, size bytes, contents undefined).
func (s *ioSlab) Get() []byte {
	s.once.Do(func() {
		if !s.heapOnly {
			s.mem = mapIOMem(s.size * s.n)
		}
	})
	s.mu.Lock()
	if k := len(s.free); k > 0 {
		b := s.free[k-1]
		s.free[k-1] = nil
		s.free = s.free[:k-1]
		s.mu.Unlock()
		return b
	}
	if s.mem != nil && s.carve < s.n {
		i := s.carve
		s.carve++
		s.mu.Unlock()
		return s.mem[i*s.size : (i+1)*s.size : (i+1)*s.size]
	}
	if s.heapOnly && s.carve < s.n {
		b := alignedBuf(s.size)
		if s.pieces == nil {
			s.pieces = make(map[*byte]bool)
		}
		s.pieces[&b[0]] = true
		s.carve++
		s.mu.Unlock()
		return b
	}
	s.heap++
	s.mu.Unlock()
	return alignedBuf(s.size)
}

// Put gives back a piece from Get. Heap buffers are left to the GC.
func (s *ioSlab) Put(b []byte) {
	s.mu.Lock()
	if s.ownsLocked(b) {
		s.free = append(s.free, b[:s.size:s.size])
	}
	s.mu.Unlock()
}

// ownsLocked reports whether b is one of the slab's pieces.
func (s *ioSlab) ownsLocked(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	p := &b[:1][0]
	if s.heapOnly {
		return s.pieces[p]
	}
	if len(s.mem) == 0 {
		return false
	}
	lo, hi := &s.mem[0], &s.mem[len(s.mem)-1]
	return uintptrOf(p) >= uintptrOf(lo) && uintptrOf(p) <= uintptrOf(hi)
}

func uintptrOf(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }
