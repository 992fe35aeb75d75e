package storage

import (
	"runtime"
	"testing"
	"unsafe"
)

// The slab hands out aligned, disjoint pieces (of its mapping, or of the heap
// under the race detector), reuses what is given back, and falls back to heap
// buffers (which it does not keep) once every piece is out.
func TestIOSlab(t *testing.T) {
	t.Run("mapped", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("the slab maps memory on Linux only")
		}
		s := &ioSlab{size: 64 << 10, n: 4}
		testIOSlab(t, s)
		if s.mem == nil {
			t.Fatal("no mapping")
		}
		if uintptr(unsafe.Pointer(&s.mem[0]))%hugePage != 0 {
			t.Fatalf("mapping at %p not aligned to a huge page", &s.mem[0])
		}
	})
	t.Run("heap", func(t *testing.T) {
		s := &ioSlab{size: 64 << 10, n: 4, heapOnly: true}
		testIOSlab(t, s)
		if s.mem != nil {
			t.Fatal("a heap-only slab mapped memory")
		}
	})
}

func testIOSlab(t *testing.T, s *ioSlab) {
	var got [][]byte
	for range s.n {
		b := s.Get()
		if len(b) != s.size || cap(b) != s.size {
			t.Fatalf("piece of len %d cap %d, want %d", len(b), cap(b), s.size)
		}
		if uintptr(unsafe.Pointer(&b[0]))%dioAlign != 0 {
			t.Fatalf("piece at %p not aligned to %d", &b[0], dioAlign)
		}
		got = append(got, b)
	}
	for i, b := range got {
		if !s.owned(b) {
			t.Fatalf("piece %d is not the slab's", i)
		}
	}
	// Disjoint: writing each piece leaves the others intact.
	for i, b := range got {
		for j := range b {
			b[j] = byte(i + 1)
		}
	}
	for i, b := range got {
		if b[0] != byte(i+1) || b[len(b)-1] != byte(i+1) {
			t.Fatalf("piece %d overwritten", i)
		}
	}

	extra := s.Get() // every piece is out: a heap buffer
	if s.owned(extra) || len(extra) != s.size || uintptr(unsafe.Pointer(&extra[0]))%dioAlign != 0 {
		t.Fatalf("fallback buffer: owned %v, len %d", s.owned(extra), len(extra))
	}
	s.Put(extra)
	if len(s.free) != 0 {
		t.Fatal("the slab kept a heap buffer")
	}
	if carved, heap := s.stats(); carved != int64(s.n*s.size) || heap != 1 {
		t.Fatalf("stats: %d bytes carved, %d heap buffers; want %d and 1", carved, heap, s.n*s.size)
	}

	s.Put(got[2][:10]) // a re-sliced piece comes back whole
	again := s.Get()
	if &again[0] != &got[2][0] || len(again) != s.size {
		t.Fatalf("Get after Put: %p len %d, want the piece given back (%p)", &again[0], len(again), &got[2][0])
	}
}

// owned is ownsLocked for tests.
func (s *ioSlab) owned(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ownsLocked(b)
}
