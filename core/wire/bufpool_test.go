package wire

import "testing"

func TestRequestBufferClasses(t *testing.T) {
	for _, n := range []int{1, 4095, 4096, 4097, 1 << 20, 3<<20 + 1, 16 << 20} {
		b := getBuf(n)
		if len(b) != n {
			t.Fatalf("getBuf(%d): len %d", n, len(b))
		}
		if c := cap(b); c < n || c&(c-1) != 0 {
			t.Fatalf("getBuf(%d): cap %d, want a power of two ≥ n", n, c)
		}
		putBuf(b)
		// Whatever the pool hands out next for this size fits it.
		if b2 := getBuf(n); len(b2) != n || cap(b2) < n {
			t.Fatalf("second getBuf(%d): len %d cap %d", n, len(b2), cap(b2))
		}
	}
	// Larger than the largest class: exact size, never pooled.
	big := getBuf(16<<20 + 1)
	if cap(big) != 16<<20+1 {
		t.Fatalf("oversized buffer cap %d", cap(big))
	}
	putBuf(big)
	// A foreign buffer whose capacity is not a class size is not pooled
	// (it would be handed out as if it had the class's capacity).
	putBuf(make([]byte, 5000))
	if b := getBuf(8000); cap(b) < 8000 {
		t.Fatalf("getBuf(8000) after putting a 5000-byte buffer: cap %d", cap(b))
	}
}
