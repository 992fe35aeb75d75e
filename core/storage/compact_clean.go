package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/streamd/streamd/core/batch"
)

// Suffixes of the swap protocol's files (see compact.go); Open deletes them.
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// compactChunk is how much of a segment a pass reads at a time.
const compactChunk = 1 << 20

// forEachBatch calls fn with every batch of s's first size bytes, in order.
// b aliases a buffer reused for the next call.
func forEachBatch(s *segment, size int64, th *throttle, fn func(b []byte, h batch.Header) error) error {
	buf := make([]byte, compactChunk)
	pos := int64(0)
	for pos < size {
		want := min(size-pos, int64(len(buf)))
		chunk := buf[:want]
		if n, err := s.f.ReadAt(chunk, pos); err != nil && !(errors.Is(err, io.EOF) && int64(n) == want) {
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
			if err := fn(chunk[off:off+total], h); err != nil {
				return err
			}
			off += total
		}
		if off == 0 { // one batch larger than the buffer: grow it
			total := int(int32(binary.BigEndian.Uint32(chunk[8:]))) + batch.LogOverhead
			buf = make([]byte, total)
			continue
		}
		pos += int64(off)
	}
	return nil
}

// filter decides which records a pass keeps.
type filter struct {
	latest  *offsetMap // key -> latest offset in the dirty part below end
	end     int64      // records from this offset on are kept as they are
	horizon int64      // tombstones with a timestamp below are removed
}

// keep reports whether record r of the batch with header h survives.
func (f *filter) keep(h batch.Header, r *batch.Record) bool {
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
	return r.Value != nil || h.RecordTimestamp(*r) >= f.horizon
}

// rebuild returns b filtered by f: b itself (same true) when every record
// stays, nil when none does (unless last: then an empty batch with b's
// offsets and header fields).
func (f *filter) rebuild(b []byte, h batch.Header, last bool) (out []byte, same bool, err error) {
	if h.Control() {
		return b, true, nil
	}
	_, recs, err := batch.Records(b)
	if err != nil {
		return nil, false, fmt.Errorf("storage: compact: batch at offset %d: %w", h.BaseOffset, err)
	}
	kept := recs[:0]
	for i := range recs {
		if f.keep(h, &recs[i]) {
			kept = append(kept, recs[i])
		}
	}
	if len(kept) == len(recs) {
		return b, true, nil
	}
	if len(kept) == 0 && !last {
		return nil, false, nil
	}
	codec := h.Codec()
	if len(kept) == 0 {
		codec = batch.CodecNone
	}
	nb := batch.Build(batch.BuildOptions{
		BaseOffset:           h.BaseOffset,
		Codec:                codec,
		ProducerID:           h.ProducerID,
		ProducerEpoch:        h.ProducerEpoch,
		BaseSequence:         h.BaseSequence,
		Attributes:           h.Attributes,
		PartitionLeaderEpoch: h.PartitionLeaderEpoch,
		KeepOffsetDeltas:     true,
		LastOffsetDelta:      h.LastOffsetDelta,
	}, kept, h.BaseTimestamp)
	// Keep the original max timestamp (the time index and retention.ms
	// judge the segment by it; LogAppendTime batches carry it for every
	// record).
	const offMaxTimestamp = 35
	binary.BigEndian.PutUint64(nb[offMaxTimestamp:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint32(nb[17:], batch.CRC(nb))
	return nb, false, nil
}

// cleanSegment writes the filtered copy of p's segment to <base>.*.cleaned
// (fsynced). It returns the new size and whether anything changed; when
// nothing did, the .cleaned files are deleted.
func (l *Log) cleanSegment(p planSeg, f *filter, th *throttle) (int64, bool, error) {
	s := p.v.seg
	out, err := os.OpenFile(s.prefix+LogSuffix+cleanedSuffix, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, false, fmt.Errorf("storage: compact: %w", err)
	}
	removeCleaned := func() {
		for _, suf := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
			os.Remove(s.prefix + suf + cleanedSuffix)
		}
	}
	w := bufio.NewWriterSize(out, compactChunk)
	m := &memIndex{}
	var pos, unsynced int64
	changed := false
	err = forEachBatch(s, p.size, th, func(b []byte, h batch.Header) error {
		last := h.NextOffset() >= p.v.next
		nb, same, err := f.rebuild(b, h, last)
		if err != nil {
			return err
		}
		changed = changed || !same
		if nb == nil {
			return nil
		}
		m.add(uint32(h.BaseOffset-s.base), pos, h.MaxTimestamp, s.interval)
		if _, err := w.Write(nb); err != nil {
			return fmt.Errorf("storage: compact: write: %w", err)
		}
		pos += int64(len(nb))
		// Sync as we go: one large fdatasync at the end of a segment would stall
		// the produce path's small fsyncs on the same disk.
		if unsynced += int64(len(nb)); unsynced >= cleanerSyncEvery {
			if err := w.Flush(); err != nil {
				return fmt.Errorf("storage: compact: write: %w", err)
			}
			if err := fdatasync(out); err != nil {
				return fmt.Errorf("storage: compact: sync: %w", err)
			}
			unsynced = 0
		}
		return th.add(len(nb))
	})
	if err == nil {
		if err = w.Flush(); err == nil {
			err = fdatasync(out)
		}
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil && changed {
		err = writeSynced(s.prefix+IndexSuffix+cleanedSuffix, appendOffEntries(nil, m.off))
		if err == nil {
			err = writeSynced(s.prefix+TimeIndexSuffix+cleanedSuffix, appendTsEntries(nil, m.ts))
		}
	}
	if err != nil || !changed {
		removeCleaned()
		return 0, false, err
	}
	return pos, true, hook("cleaned-written", s.base)
}

// cleanerSyncEvery is how many cleaned bytes are written between fdatasyncs.
const cleanerSyncEvery = 4 << 20

func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("storage: compact: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storage: compact: write %s: %w", name, err)
	}
	return nil
}

// swapCleaned puts the cleaned copy of p's segment in place (steps 2-6 of the
// protocol in compact.go). It reports false, deleting the copy, when the
// segment is gone meanwhile (retention, DeleteRecords).
func (l *Log) swapCleaned(p planSeg, newSize int64) (bool, error) {
	old := p.v.seg
	suffixes := []string{LogSuffix, IndexSuffix, TimeIndexSuffix}
	discard := func() {
		for _, suf := range suffixes {
			os.Remove(old.prefix + suf + cleanedSuffix)
			os.Remove(old.prefix + suf + swapSuffix)
		}
	}
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	l.rpMu.Lock() // no recovery point is written into old meanwhile
	defer l.rpMu.Unlock()
	l.mu.RLock()
	err := l.usableLocked()
	present := err == nil && l.segs[l.segmentForLocked(old.base)] == old && !l.holdsRecoveryPointLocked(old)
	l.mu.RUnlock()
	if !present {
		discard()
		return false, err
	}
	// Keep the old copy readable for readers still holding it: open its
	// index files (or rebuild them in memory) before they are deleted, and
	// never let it write index files again.
	if _, _, err := p.v.indexes(l.logger); err != nil {
		discard()
		return false, err
	}

	for _, suf := range suffixes {
		if err := os.Rename(old.prefix+suf+cleanedSuffix, old.prefix+suf+swapSuffix); err != nil {
			discard()
			return false, fmt.Errorf("storage: compact: %w", err)
		}
	}
	if err := syncDir(l.dir); err != nil {
		discard()
		return false, fmt.Errorf("storage: compact: sync dir: %w", err)
	}
	if err := hook("swap-renamed", old.base); err != nil {
		return false, err
	}
	old.removed.Store(true)
	for _, suf := range suffixes[1:] {
		if err := os.Remove(old.prefix + suf); err != nil && !errors.Is(err, fs.ErrNotExist) {
			discard()
			return false, fmt.Errorf("storage: compact: %w", err)
		}
	}
	if err := hook("old-index-removed", old.base); err != nil {
		return false, err
	}
	if err := os.Rename(old.prefix+LogSuffix+swapSuffix, old.prefix+LogSuffix); err != nil { // commit
		discard()
		return false, fmt.Errorf("storage: compact: %w", err)
	}
	if err := hook("log-replaced", old.base); err != nil {
		return false, err
	}
	var ferr error
	for _, suf := range suffixes[1:] {
		if err := os.Rename(old.prefix+suf+swapSuffix, old.prefix+suf); err != nil && ferr == nil {
			ferr = err // the index is rebuilt when first used
		}
	}
	if err := syncDir(l.dir); err != nil && ferr == nil {
		ferr = err
	}
	if ferr != nil {
		l.logger.Warn("storage: compact: placing index files", "segment", old.base, "err", ferr)
	}
	if err := hook("index-replaced", old.base); err != nil {
		return false, err
	}

	ns, err := openSegment(l.dir, old.base, old.interval)
	if err != nil {
		// The new copy is on disk; this process keeps serving the old one
		// (same records, uncleaned) until the log is reopened.
		return false, err
	}
	l.mu.Lock()
	ns.sealed, ns.next, ns.created = true, old.next, old.created
	ns.size = newSize
	i := l.segmentForLocked(old.base)
	l.segs[i] = ns
	l.size += ns.size - old.size
	l.mu.Unlock()
	old.release() // the Log's reference; readers hold their own
	return true, nil
}
