package storage

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(10) // 14 slots, room for 10 keys
	defer m.release()
	if m.free() != 10 {
		t.Fatalf("free %d, want 10", m.free())
	}
	if _, ok := m.get([]byte("a")); ok {
		t.Fatal("get on an empty map found a key")
	}
	for i := range 10 {
		if !m.put(fmt.Appendf(nil, "k%d", i), int64(i)) {
			t.Fatalf("put of key %d refused below capacity", i)
		}
	}
	// Full: a new key is refused and not stored; existing keys still update.
	if m.put([]byte("new"), 100) {
		t.Fatal("put of a new key into a full map accepted")
	}
	if _, ok := m.get([]byte("new")); ok {
		t.Fatal("refused key is present")
	}
	if !m.put([]byte("k3"), 50) {
		t.Fatal("overwrite refused in a full map")
	}
	// The empty key and offset 0 are ordinary values.
	for i := range 10 {
		want := int64(i)
		if i == 3 {
			want = 50
		}
		if got, ok := m.get(fmt.Appendf(nil, "k%d", i)); !ok || got != want {
			t.Fatalf("get k%d = %d, %v; want %d", i, got, ok, want)
		}
	}
	if m.len() != 10 || m.free() != 0 {
		t.Fatalf("len %d free %d, want 10 and 0", m.len(), m.free())
	}

	e := newOffsetMap(1)
	defer e.release()
	if !e.put([]byte{}, 0) {
		t.Fatal("put of the empty key refused")
	}
	if got, ok := e.get([]byte{}); !ok || got != 0 {
		t.Fatalf("empty key: %d, %v", got, ok)
	}
	if _, ok := e.get([]byte{0}); ok {
		t.Fatal("key 0x00 found as the empty key")
	}
}

// TestOffsetMapAgainstMap checks many keys, with overwrites, against a Go map.
func TestOffsetMapAgainstMap(t *testing.T) {
	const keys = 50_000
	m := newOffsetMap(keys)
	defer m.release()
	want := map[string]int64{}
	rng := rand.New(rand.NewPCG(3, 4))
	for off := int64(0); off < 3*keys; off++ {
		k := fmt.Sprintf("key-%d", rng.IntN(keys))
		if !m.put([]byte(k), off) {
			t.Fatalf("put %q refused with %d keys", k, m.len())
		}
		want[k] = off
	}
	if m.len() != len(want) {
		t.Fatalf("len %d, want %d", m.len(), len(want))
	}
	for k, off := range want {
		if got, ok := m.get([]byte(k)); !ok || got != off {
			t.Fatalf("get %q = %d, %v; want %d", k, got, ok, off)
		}
	}
	for i := range 1000 {
		if _, ok := m.get(fmt.Appendf(nil, "absent-%d", i)); ok {
			t.Fatalf("absent-%d found", i)
		}
	}
}

func TestOffsetMapCapped(t *testing.T) {
	defer func(v int) { maxOffsetMapBytes = v }(maxOffsetMapBytes)
	maxOffsetMapBytes = 100 * offsetSlotBytes
	m := newOffsetMap(1 << 40)
	defer m.release()
	if len(m.slots) != 100 || m.free() != 75 {
		t.Fatalf("%d slots, room for %d keys; want 100 and 75", len(m.slots), m.free())
	}
}

// TestCompactOffsetMapFull shrinks the offset map far below the number of
// keys: every pass cleans a prefix of the dirty range (some ending inside a
// segment), the log is a valid compacted log after each, and repeated passes
// reach the end of the cleanable range.
func TestCompactOffsetMapFull(t *testing.T) {
	defer func(v int) { maxOffsetMapBytes = v }(maxOffsetMapBytes)
	maxOffsetMapBytes = 14 * offsetSlotBytes // room for 10 keys
	rng := rand.New(rand.NewPCG(11, 12))
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 2048, IndexIntervalBytes: 256}, nil)
	written := compactWorkload(t, l, rng, 250, 25)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	bases := map[int64]bool{}
	for _, s := range l.Segments() {
		bases[s.BaseOffset] = true
	}
	target := activeBase(l)
	prev, passes, midSegment := int64(-1), 0, 0
	for ; passes < 500; passes++ {
		res, err := l.Compact(CompactOptions{DeleteRetentionMs: 0})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Cleaned {
			break
		}
		to, err := readCleanerCheckpoint(l.dir)
		if err != nil || to <= prev || to > target {
			t.Fatalf("pass %d: checkpoint %d (%v) after %d, target %d", passes, to, err, prev, target)
		}
		if !bases[to] {
			midSegment++
		}
		prev = to
		if err := checkCompactedErr(written, readCompacted(t, l), to, true); err != nil {
			t.Fatalf("pass %d (cleaned to %d): %v", passes, to, err)
		}
	}
	if prev != target || passes < 3 || midSegment == 0 {
		t.Fatalf("%d passes cleaned to %d (target %d), %d ending inside a segment", passes, prev, target, midSegment)
	}
}

// TestOffsetMapGrows: a map sized for many keys starts small and doubles as
// keys arrive, keeping every key, never beyond what the key count needs.
func TestOffsetMapGrows(t *testing.T) {
	const keys = 300_000
	m := newOffsetMap(4 * keys) // as a pass sizes it: every offset could be a new key
	defer m.release()
	if len(m.slots) != offsetMapInitialSlots {
		t.Fatalf("new map has %d slots, want %d", len(m.slots), offsetMapInitialSlots)
	}
	for i := range keys {
		if !m.put(fmt.Appendf(nil, "key-%d", i), int64(i)) {
			t.Fatalf("put %d refused", i)
		}
	}
	if n := len(m.slots); n < keys*4/3 || n > 2*keys*4/3 || n > m.maxSlots {
		t.Fatalf("%d slots for %d keys (max %d)", n, keys, m.maxSlots)
	}
	for i := range keys {
		if got, ok := m.get(fmt.Appendf(nil, "key-%d", i)); !ok || got != int64(i) {
			t.Fatalf("key-%d: %d, %v after growing", i, got, ok)
		}
	}
	if m.free() != m.maxSlots*3/4-keys {
		t.Fatalf("free %d, want %d", m.free(), m.maxSlots*3/4-keys)
	}
}

// TestOffsetMapRelease: a released map has given its table back, and a second
// release (or the cleanup that would run once the map is garbage) is harmless;
// OffsetMapBytes counts the table in use, and only it, on Linux.
func TestOffsetMapRelease(t *testing.T) {
	before := OffsetMapBytes()
	m := newOffsetMap(1 << 20)
	for i := range 100_000 { // a few resizes: each frees the table before
		m.put(fmt.Appendf(nil, "key-%d", i), int64(i))
	}
	if runtime.GOOS == "linux" {
		if m.mem.free == nil {
			t.Fatal("table not in its own mapping on Linux")
		}
		if got, want := OffsetMapBytes()-before, int64(len(m.slots))*offsetSlotBytes; got != want {
			t.Fatalf("OffsetMapBytes grew by %d with a table of %d slots, want %d", got, len(m.slots), want)
		}
	}
	m.release()
	if m.slots != nil || m.mem.free != nil {
		t.Fatal("release kept the table")
	}
	m.release()
	runtime.GC()
	if got := OffsetMapBytes(); got != before {
		t.Fatalf("OffsetMapBytes %d after release, want %d as before", got, before)
	}
}
