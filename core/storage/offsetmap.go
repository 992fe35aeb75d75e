package storage

import (
	"hash/maphash"
	"math/bits"
	"runtime"
	"sync/atomic"
)

// offsetMap is the key -> latest offset map of a compaction pass, after
// Kafka's SkimpyOffsetMap: an open-addressing hash table with no allocation
// per key.
//
// A slot holds a 128-bit digest of the key (two 64-bit maphash hashes with
// independent seeds, chosen at random per map) and offset+1 (0 marks an
// empty slot, so a fresh zeroed table is empty). The slice holds no pointers,
// so the garbage collector never scans it; on Linux it is not even in the Go
// heap (allocSlots), and a pass frees it when it ends (release).
//
// Keys are compared by digest only: two keys with the same 128-bit digest are
// treated as the same key, exactly as Kafka does with MD5. For n distinct
// keys the chance of any such collision is about n²/2¹²⁹ (≈ 1.5e-27 for a
// million keys), and as seeds are random per pass, a collision does not
// repeat. The effect of one would be that the older record of one of the two
// keys is dropped although it is its key's latest.
//
// Lookups use linear probing from a position derived from the first hash;
// the table is never filled beyond offsetMapLoad, so probes stay short and
// always end at an empty slot. Unlike Kafka's buffer, which is allocated
// whole, the table starts small (offsetMapInitialSlots) and doubles when it
// reaches that load, up to the slots the caller's key count can use and never
// beyond maxOffsetMapBytes; a full table at that size refuses new keys (put
// reports false). A table sized to the keys really present stays in the CPU
// caches longer and costs no memory it does not use.
type offsetMap struct {
	slots    []offsetSlot
	mem      *slotMem // how slots is freed
	used     int
	limit    int // keys the current table holds before it grows
	maxSlots int // largest table
	s1, s2   maphash.Seed
}

// slotMem frees a table that allocSlots took outside the Go heap: by
// offsetMap.release, or by a cleanup once the map is unreachable.
type slotMem struct {
	free  func()
	bytes int64 // the table's size, counted in offsetMapBytes while mapped
}

func (sm *slotMem) release() {
	if sm.free != nil {
		sm.free()
		sm.free = nil
		offsetMapBytes.Add(-sm.bytes)
		sm.bytes = 0
	}
}

// offsetMapBytes is the memory of the offset-map tables mapped outside the Go
// heap now (a table that fell back to the heap counts in the heap's metrics).
var offsetMapBytes atomic.Int64

// OffsetMapBytes returns the memory of the cleaner's offset maps in use now
// outside the Go heap: at most Kafka's log.cleaner.dedupe.buffer.size (128
// MiB) per cleaning pass in progress.
func OffsetMapBytes() int64 { return offsetMapBytes.Load() }

type offsetSlot struct {
	h1, h2 uint64
	off1   int64 // offset + 1; 0: empty
}

const (
	offsetSlotBytes = 24
	// offsetMapLoad is the most a table is filled (numerator/denominator).
	offsetMapLoadNum, offsetMapLoadDen = 3, 4
	// offsetMapInitialSlots is the size of a new table (1.5 MiB).
	offsetMapInitialSlots = 1 << 16
)

// maxOffsetMapBytes caps a pass's offset map (Kafka's default
// log.cleaner.dedupe.buffer.size is 128 MiB too): 5.59 M slots, room for
// 4.19 M distinct keys. A dirty range with more keys is cleaned over several
// passes (see Compact). A variable so tests can shrink it.
var maxOffsetMapBytes = 128 << 20

// newOffsetMap returns a map for up to keys distinct keys (at least 1),
// within maxOffsetMapBytes.
func newOffsetMap(keys int64) *offsetMap {
	most := int64(max(maxOffsetMapBytes/offsetSlotBytes, 2))
	keys = min(max(keys, 1), most)
	maxSlots := int(min(keys*offsetMapLoadDen/offsetMapLoadNum+1, most))
	m := &offsetMap{maxSlots: maxSlots, s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), mem: &slotMem{}}
	runtime.AddCleanup(m, (*slotMem).release, m.mem)
	m.resize(min(maxSlots, offsetMapInitialSlots))
	return m
}

// release frees the table; the map must not be used after it.
func (m *offsetMap) release() {
	m.mem.release()
	m.slots = nil
}

// resize moves the keys into a new table of n slots.
func (m *offsetMap) resize(n int) {
	old, oldMem := m.slots, *m.mem
	m.slots, m.mem.free = allocSlots(n)
	m.mem.bytes = 0
	if m.mem.free != nil {
		m.mem.bytes = int64(n) * offsetSlotBytes
		offsetMapBytes.Add(m.mem.bytes)
	}
	defer oldMem.release()
	m.limit = max(n*offsetMapLoadNum/offsetMapLoadDen, 1)
	for i := range old {
		if s := old[i]; s.off1 != 0 {
			j := m.home(s.h1)
			for m.slots[j].off1 != 0 {
				if j++; j == n {
					j = 0
				}
			}
			m.slots[j] = s
		}
	}
}

// home is the slot where probing for a key with first hash h1 starts.
func (m *offsetMap) home(h1 uint64) int {
	hi, _ := bits.Mul64(h1, uint64(len(m.slots))) // h1 scaled to [0, len)
	return int(hi)
}

// find returns the index of key's slot, or of the empty slot where it would
// go, and the key's digest.
func (m *offsetMap) find(key []byte) (int, uint64, uint64) {
	h1, h2 := maphash.Bytes(m.s1, key), maphash.Bytes(m.s2, key)
	i := m.home(h1)
	for {
		s := &m.slots[i]
		if s.off1 == 0 || (s.h1 == h1 && s.h2 == h2) {
			return i, h1, h2
		}
		if i++; i == len(m.slots) {
			i = 0
		}
	}
}

// put records off as key's latest offset. It reports false, changing
// nothing, when key is new and the map is full.
func (m *offsetMap) put(key []byte, off int64) bool {
	i, h1, h2 := m.find(key)
	s := &m.slots[i]
	if s.off1 == 0 {
		if m.used >= m.limit {
			if len(m.slots) >= m.maxSlots {
				return false
			}
			m.resize(min(2*len(m.slots), m.maxSlots))
			return m.put(key, off)
		}
		m.used++
		s.h1, s.h2 = h1, h2
	}
	s.off1 = off + 1
	return true
}

// get returns key's latest offset.
func (m *offsetMap) get(key []byte) (int64, bool) {
	i, _, _ := m.find(key)
	if off1 := m.slots[i].off1; off1 != 0 {
		return off1 - 1, true
	}
	return 0, false
}

// len returns the number of keys; free how many more put accepts (growing
// the table as needed).
func (m *offsetMap) len() int { return m.used }
func (m *offsetMap) free() int {
	return max(m.maxSlots*offsetMapLoadNum/offsetMapLoadDen, 1) - m.used
}
