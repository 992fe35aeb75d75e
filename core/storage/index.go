package storage

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
)

// offEntry is one offset index entry: the batch starting at relative offset
// rel is at byte position pos of the segment.
type offEntry struct{ rel, pos uint32 }

// tsEntry is one time index entry: the batch starting at relative offset rel
// raised the segment's largest timestamp to ts.
type tsEntry struct {
	ts  int64
	rel uint32
}

func appendOffEntries(dst []byte, es []offEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint32(dst, e.rel)
		dst = binary.BigEndian.AppendUint32(dst, e.pos)
	}
	return dst
}

func appendTsEntries(dst []byte, es []tsEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ts))
		dst = binary.BigEndian.AppendUint32(dst, e.rel)
	}
	return dst
}

func decodeOffEntry(b []byte) offEntry {
	return offEntry{rel: binary.BigEndian.Uint32(b), pos: binary.BigEndian.Uint32(b[4:])}
}

func decodeTsEntry(b []byte) tsEntry {
	return tsEntry{ts: int64(binary.BigEndian.Uint64(b)), rel: binary.BigEndian.Uint32(b[8:])}
}

// memIndex holds a segment's index entries in memory: always for the active
// segment, and for a sealed one until its files are written and synced.
// Entries are only appended (or cut off at recovery), so a copy of the slice
// headers taken under Log.mu can be read without the lock.
type memIndex struct {
	off         []offEntry
	ts          []tsEntry
	offFlushed  int   // entries of off already in the .index file
	tsFlushed   int   // entries of ts already in the .timeindex file
	lastIndexed int64 // position of the batch of the last off entry (0: none)
}

// add indexes the batch at pos (relative offset rel, largest timestamp
// maxTS), following the rules in the package comment.
func (m *memIndex) add(rel uint32, pos, maxTS, interval int64) {
	if pos-m.lastIndexed >= interval {
		m.off = append(m.off, offEntry{rel: rel, pos: uint32(pos)})
		m.lastIndexed = pos
	}
	if n := len(m.ts); (n == 0 && maxTS > -1) || (n > 0 && maxTS > m.ts[n-1].ts) {
		m.ts = append(m.ts, tsEntry{ts: maxTS, rel: rel})
	}
}

// truncate drops the entries of batches at position >= pos (relative offset
// >= rel).
func (m *memIndex) truncate(pos int64, rel uint32) {
	n := sort.Search(len(m.off), func(i int) bool { return int64(m.off[i].pos) >= pos })
	m.off = m.off[:n]
	m.offFlushed = min(m.offFlushed, n)
	m.lastIndexed = 0
	if n > 0 {
		m.lastIndexed = int64(m.off[n-1].pos)
	}
	k := sort.Search(len(m.ts), func(i int) bool { return m.ts[i].rel >= rel })
	m.ts = m.ts[:k]
	m.tsFlushed = min(m.tsFlushed, k)
}

// offIndex is a read-only view of offset index entries, either in memory or
// in a file read with pread.
type offIndex struct {
	mem []offEntry
	f   *os.File // used when mem is nil
	n   int
}

func memOffIndex(es []offEntry) offIndex { return offIndex{mem: es, n: len(es)} }

func (x offIndex) at(i int) (offEntry, error) {
	if x.f == nil {
		return x.mem[i], nil
	}
	var b [OffsetIndexEntrySize]byte
	if _, err := x.f.ReadAt(b[:], int64(i)*OffsetIndexEntrySize); err != nil {
		return offEntry{}, fmt.Errorf("storage: read index: %w", err)
	}
	return decodeOffEntry(b[:]), nil
}

// floor returns the position of the last entry with relative offset <= rel,
// or 0 when there is none.
func (x offIndex) floor(rel uint32) (int64, error) {
	lo, hi := 0, x.n // invariant: entries < lo are <= rel, entries >= hi are > rel
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e, err := x.at(mid)
		if err != nil {
			return 0, err
		}
		if e.rel <= rel {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0, nil
	}
	e, err := x.at(lo - 1)
	return int64(e.pos), err
}

// tsIndex is a read-only view of time index entries, in memory or in a file.
type tsIndex struct {
	mem []tsEntry
	f   *os.File
	n   int
}

func memTsIndex(es []tsEntry) tsIndex { return tsIndex{mem: es, n: len(es)} }

func (x tsIndex) at(i int) (tsEntry, error) {
	if x.f == nil {
		return x.mem[i], nil
	}
	var b [TimeIndexEntrySize]byte
	if _, err := x.f.ReadAt(b[:], int64(i)*TimeIndexEntrySize); err != nil {
		return tsEntry{}, fmt.Errorf("storage: read time index: %w", err)
	}
	return decodeTsEntry(b[:]), nil
}

// ceil returns the first entry with timestamp >= ts.
func (x tsIndex) ceil(ts int64) (tsEntry, bool, error) {
	lo, hi := 0, x.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e, err := x.at(mid)
		if err != nil {
			return tsEntry{}, false, err
		}
		if e.ts < ts {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == x.n {
		return tsEntry{}, false, nil
	}
	e, err := x.at(lo)
	return e, err == nil, err
}

// lastBelow returns the last entry with relative offset < rel: the largest
// timestamp of the batches before rel.
func (x tsIndex) lastBelow(rel uint32) (tsEntry, bool, error) {
	lo, hi := 0, x.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e, err := x.at(mid)
		if err != nil {
			return tsEntry{}, false, err
		}
		if e.rel < rel {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return tsEntry{}, false, nil
	}
	e, err := x.at(lo - 1)
	return e, err == nil, err
}

// readOffEntries reads a whole .index file and returns the entries of
// batches before posLimit (offsets below relLimit). The file may go on with
// entries beyond that point (they end where the trusted data ends) as long as
// they stay within the segment's size; anything else (entries out of order,
// zero, or past the data) makes it corrupt.
func readOffEntries(f *os.File, relLimit, posLimit, size int64) (es []offEntry, corrupt bool, err error) {
	b, err := readAll(f)
	if err != nil {
		return nil, false, err
	}
	es = make([]offEntry, 0, len(b)/OffsetIndexEntrySize)
	var prev offEntry
	for i := 0; i+OffsetIndexEntrySize <= len(b); i += OffsetIndexEntrySize {
		e := decodeOffEntry(b[i:])
		if e.rel <= prev.rel || e.pos <= prev.pos || int64(e.pos) >= size {
			return es, true, nil
		}
		prev = e
		if int64(e.pos) >= posLimit {
			continue // beyond the trusted data; checked for order only
		}
		if int64(e.rel) >= relLimit {
			return es, true, nil
		}
		es = append(es, e)
	}
	return es, false, nil
}

// readTsEntries reads a whole .timeindex file and returns the entries of
// batches below relLimit; entries out of order make it corrupt.
func readTsEntries(f *os.File, relLimit int64) (es []tsEntry, corrupt bool, err error) {
	b, err := readAll(f)
	if err != nil {
		return nil, false, err
	}
	es = make([]tsEntry, 0, len(b)/TimeIndexEntrySize)
	for i := 0; i+TimeIndexEntrySize <= len(b); i += TimeIndexEntrySize {
		e := decodeTsEntry(b[i:])
		if e.ts < 0 || (i > 0 && (e.ts <= decodeTsEntry(b[i-TimeIndexEntrySize:]).ts || e.rel <= decodeTsEntry(b[i-TimeIndexEntrySize:]).rel)) {
			return es, true, nil
		}
		if int64(e.rel) < relLimit {
			es = append(es, e)
		}
	}
	return es, false, nil
}

func readAll(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	n, err := f.ReadAt(b, 0)
	if err == io.EOF {
		err = nil
	}
	return b[:n], err
}
