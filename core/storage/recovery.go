package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/streamd/streamd/core/batch"
)

// leftoverSuffixes name files of interrupted writes; Open deletes them.
var leftoverSuffixes = []string{TempSuffix, ".cleaned", ".swap", ".deleted"}

// scanChunk is how much of a segment recovery reads at a time.
const scanChunk = 4 << 20

// Open opens the partition log in dir, creating dir if it does not exist,
// and recovers it: the tail after the recovery point is checked batch by
// batch and cut at the first torn or corrupt batch. fl may be nil (then a
// Fsync log syncs inside Append and a !Fsync log only on Sync and Close);
// logger nil means slog.Default().
func Open(dir string, opts Options, fl *Flusher, logger *slog.Logger) (*Log, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	l := &Log{
		dir:    dir,
		opts:   opts.withDefaults(),
		fl:     fl,
		logger: logger.With("partition", dir),
	}
	if err := l.recover(); err != nil {
		l.releaseAll()
		return nil, err
	}
	if err := l.attachDirect(l.segs[len(l.segs)-1]); err != nil {
		l.releaseAll()
		return nil, err
	}
	if err := l.flush(flushOpen); err != nil {
		l.releaseAll()
		return nil, err
	}
	return l, nil
}

func (l *Log) releaseAll() {
	for _, s := range l.unsynced {
		s.release()
	}
	for _, s := range l.segs {
		s.release()
	}
	l.segs, l.unsynced = nil, nil
}

// recover builds the in-memory state from the directory. It runs before the
// Log is shared, so it takes no locks.
func (l *Log) recover() error {
	interval := int64(l.opts.IndexIntervalBytes)
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	lso, err := readStartOffset(l.dir)
	if err != nil {
		l.logger.Warn("storage: ignoring log start offset checkpoint", "err", err)
	}
	rp, rpOK, err := readRecoveryPoint(l.dir)
	if err != nil {
		l.logger.Warn("storage: ignoring recovery point", "err", err)
	}
	if eps, err := readEpochs(l.dir); err != nil {
		l.logger.Warn("storage: ignoring leader epoch checkpoint", "err", err)
	} else {
		l.epochs.entries = eps
	}
	epochsBefore := len(l.epochs.entries)

	// Finish an interrupted DeleteRecords: segments wholly below the start.
	for len(bases) > 1 && bases[1] <= lso {
		s := &segment{prefix: segmentPrefix(l.dir, bases[0])}
		// Never opened: there is no descriptor for the reaper to shrink.
		if err := s.remove(nil); err != nil {
			return err
		}
		bases = bases[1:]
	}

	if len(bases) == 0 {
		base := max(lso, 0)
		s, err := createSegment(l.dir, base, interval)
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
		l.start, l.leo, l.hwm, l.hwmSeg = base, base, base, base
		l.dirDirty = true
		l.queueUnsynced(s)
		l.flushed = recoveryPoint{seg: base, pos: 0, next: base}
		l.ckpt = recoveryPoint{seg: -1, pos: -1, next: -1}
		return l.finishEpochs(epochsBefore)
	}

	for _, b := range bases {
		s, err := openSegment(l.dir, b, interval)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		l.size += s.size
	}

	// Where to start scanning.
	k := -1
	if rpOK {
		k = slices.Index(bases, rp.seg)
		switch {
		case k < 0:
			l.logger.Warn("storage: recovery point names a missing segment; scanning every segment", "segment", rp.seg)
		case rp.pos > l.segs[k].size || (rp.pos == 0 && rp.next != rp.seg) || (rp.pos > 0 && rp.next <= rp.seg):
			l.logger.Warn("storage: recovery point beyond the data; scanning every segment",
				"segment", rp.seg, "position", rp.pos, "size", l.segs[k].size)
			k = -1
		}
	} else {
		l.logger.Info("storage: no recovery point; scanning every segment")
	}
	if k < 0 {
		k, rp = 0, recoveryPoint{seg: bases[0], pos: 0, next: bases[0]}
	}
	l.ckpt = recoveryPoint{seg: -1, pos: -1, next: -1}
	if rpOK {
		l.ckpt = rp
	}

	for i := 0; i < k; i++ { // trusted, indexes checked when first used
		l.segs[i].sealed = true
		l.segs[i].next = l.segs[i+1].base
	}
	if err := l.loadTrustedIndexes(l.segs[k], &rp); err != nil {
		return err
	}
	l.flushed = rp

	next := rp.next
	for i := k; i < len(l.segs); i++ {
		s := l.segs[i]
		from := int64(0)
		if i == k {
			from = rp.pos
		} else if s.base < next { // a forward gap is fine (compaction), an overlap is not
			l.logger.Warn("storage: segment does not continue the log; dropping it and what follows",
				"segment", s.base, "expected", next)
			l.dropFrom(i)
			break
		} else {
			if err := s.openIndexFiles(); err != nil {
				return err
			}
			s.mem = &memIndex{}
		}
		if from < s.size {
			l.stats.SegmentsScanned++
		}
		end, n, err := l.scanSegment(s, from, next)
		if err != nil {
			return err
		}
		next, s.next = n, n
		if end < s.size {
			dropped := s.size - end
			padding := i == len(l.segs)-1 && dropped < dioAlign && allZero(s.f, end, dropped)
			if err := s.f.Truncate(end); err != nil {
				return fmt.Errorf("storage: truncate: %w", err)
			}
			if err := fdatasync(s.f); err != nil {
				return fmt.Errorf("storage: truncate: %w", err)
			}
			l.size -= dropped
			s.size = end
			dropped += l.dropFrom(i + 1)
			l.stats.BytesTruncated += dropped
			if padding { // the padding of a direct write, or blocks a crash left zeroed: no batch lost
				l.logger.Info("storage: cut zeros after the last batch",
					"segment", filepath.Base(s.prefix+LogSuffix), "position", end, "bytes", dropped)
				break
			}
			l.logger.Warn("storage: truncated torn or corrupt log tail",
				"segment", filepath.Base(s.prefix+LogSuffix), "position", end, "offset", next, "bytes_dropped", dropped)
			break
		}
	}

	// Segments from k on have in-memory indexes: cut their files to what
	// those hold and let the Open flush write the rest.
	for i := k; i < len(l.segs); i++ {
		s := l.segs[i]
		s.sealed = i < len(l.segs)-1
		if err := s.idxF.Truncate(int64(s.mem.offFlushed) * OffsetIndexEntrySize); err != nil {
			return fmt.Errorf("storage: truncate index: %w", err)
		}
		if err := s.tsF.Truncate(int64(s.mem.tsFlushed) * TimeIndexEntrySize); err != nil {
			return fmt.Errorf("storage: truncate time index: %w", err)
		}
		l.queueUnsynced(s)
	}

	active := l.segs[len(l.segs)-1]
	l.leo = next
	l.start = max(l.segs[0].base, lso)
	if l.start > l.leo {
		l.logger.Warn("storage: log start offset beyond the recovered end; starting an empty log there",
			"log_start_offset", l.start, "log_end_offset", l.leo)
		l.stats.BytesTruncated += l.dropFrom(0)
		s, err := createSegment(l.dir, l.start, interval)
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
		l.queueUnsynced(s)
		l.dirDirty = true
		l.leo, active = l.start, s
	}
	if active.size > 0 {
		var buf [batch.HeaderLen]byte
		if h, err := active.readHeader(0, &buf); err == nil && h.MaxTimestamp > 0 {
			active.created = time.UnixMilli(h.MaxTimestamp)
		}
	} else {
		active.created = time.Time{}
	}
	l.hwm, l.hwmSeg, l.hwmPos = l.leo, active.base, active.size
	return l.finishEpochs(epochsBefore)
}

func (l *Log) queueUnsynced(s *segment) {
	if !s.inUnsynced {
		s.inUnsynced = true
		s.acquire()
		l.unsynced = append(l.unsynced, s)
	}
}

// finishEpochs drops epochs past the log end and persists the cache if it
// changed during recovery.
func (l *Log) finishEpochs(before int) error {
	changed := l.epochs.truncateFromEnd(l.leo)
	if l.start > 0 {
		changed = l.epochs.truncateFromStart(l.start) || changed
	}
	if changed || len(l.epochs.entries) != before {
		return l.writeEpochsLocked()
	}
	return nil
}

// listSegments returns the sorted base offsets of the .log files, deleting
// leftovers of interrupted writes and index files without a segment.
func (l *Log) listSegments() ([]int64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	var bases []int64
	for _, e := range entries {
		if b, ok := parseSegmentName(e.Name(), LogSuffix); ok && !e.IsDir() {
			bases = append(bases, b)
		}
	}
	slices.Sort(bases)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		orphan := false
		for _, suf := range []string{IndexSuffix, TimeIndexSuffix} {
			if b, ok := parseSegmentName(name, suf); ok {
				_, found := slices.BinarySearch(bases, b)
				orphan = !found
			}
		}
		leftover := slices.ContainsFunc(leftoverSuffixes, func(s string) bool { return strings.HasSuffix(name, s) })
		if orphan || leftover {
			l.logger.Info("storage: deleting leftover file", "file", name)
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, fmt.Errorf("storage: open: %w", err)
			}
		}
	}
	return bases, nil
}

// dropFrom deletes segments i and later and returns their bytes.
func (l *Log) dropFrom(i int) int64 {
	var n int64
	for _, s := range l.segs[i:] {
		n += s.size
		l.size -= s.size
		if err := s.remove(l.reaper()); err != nil {
			l.logger.Error("storage: dropping segment", "err", err)
		}
		if s.inUnsynced {
			s.inUnsynced = false
			l.unsynced = slices.DeleteFunc(l.unsynced, func(u *segment) bool { return u == s })
			s.release()
		}
		s.release()
	}
	l.segs = l.segs[:i]
	return n
}

// loadTrustedIndexes loads the index entries of s for its trusted prefix
// [0, rp.pos) (offsets below rp.next) into memory. If the files are damaged
// it rebuilds them by walking that prefix; if that fails too, the prefix is
// not trusted after all and rp moves back to the start of s.
func (l *Log) loadTrustedIndexes(s *segment, rp *recoveryPoint) error {
	missing := false
	for _, suf := range []string{IndexSuffix, TimeIndexSuffix} {
		if _, err := os.Stat(s.prefix + suf); errors.Is(err, os.ErrNotExist) {
			missing = true
		}
	}
	if err := s.openIndexFiles(); err != nil {
		return err
	}
	off, offBad, err := readOffEntries(s.idxF, rp.next-s.base, rp.pos, s.size)
	if err != nil {
		return fmt.Errorf("storage: read index: %w", err)
	}
	ts, tsBad, err := readTsEntries(s.tsF, rp.next-s.base)
	if err != nil {
		return fmt.Errorf("storage: read time index: %w", err)
	}
	complete := int64(len(off)) == rp.offEntries && int64(len(ts)) == rp.tsEntries
	if rp.pos == 0 || (!missing && !offBad && !tsBad && complete) {
		m := &memIndex{off: off, ts: ts, offFlushed: len(off), tsFlushed: len(ts)}
		if len(off) > 0 {
			m.lastIndexed = int64(off[len(off)-1].pos)
		}
		s.mem = m
		return nil
	}
	l.logger.Warn("storage: rebuilding damaged index", "segment", filepath.Base(s.prefix))
	l.stats.IndexesRebuilt++
	m, err := s.buildIndex(rp.pos)
	if err != nil {
		l.logger.Warn("storage: segment below the recovery point is damaged; scanning it", "segment", s.base, "err", err)
		*rp = recoveryPoint{seg: s.base, pos: 0, next: s.base}
		m = &memIndex{}
	}
	s.mem = m
	return nil
}

// scanSegment checks the batches of s from position from (where offset next
// starts) with batch.Scan, indexing them. It returns where the valid data
// ends and the offset after it.
func (l *Log) scanSegment(s *segment, from, next int64) (int64, int64, error) {
	pos, need := from, int64(0)
	var buf []byte
	for pos < s.size {
		want := min(s.size-pos, max(scanChunk, need))
		if int64(cap(buf)) < want {
			buf = make([]byte, want)
		}
		chunk := buf[:want]
		if n, err := s.f.ReadAt(chunk, pos); err != nil && !(errors.Is(err, io.EOF) && int64(n) == want) {
			return 0, 0, fmt.Errorf("storage: scan %s: %w", s.prefix+LogSuffix, err)
		}
		l.stats.BytesScanned += want
		bad := -1
		valid, serr := batch.Scan(chunk, func(p int, h batch.Header) bool {
			// Offsets may jump forward (a compacted log has gaps) but never go back.
			if h.BaseOffset < next || h.LastOffsetDelta < 0 || h.LastOffset()-s.base > MaxSegmentOffsetSpan {
				bad = p
				return false
			}
			s.mem.add(uint32(h.BaseOffset-s.base), pos+int64(p), h.MaxTimestamp, s.interval)
			l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
			next = h.NextOffset()
			return true
		})
		if bad >= 0 {
			return pos + int64(bad), next, nil
		}
		pos += int64(valid)
		if serr == nil {
			need = 0
			continue
		}
		// Torn at the end of the chunk but not of the file: read more.
		rest := chunk[valid:]
		if errors.Is(serr, batch.ErrTorn) && pos+int64(len(rest)) < s.size {
			if len(rest) < batch.LogOverhead {
				need = scanChunk
				continue
			}
			total := int64(int32(binary.BigEndian.Uint32(rest[8:]))) + batch.LogOverhead
			if total > int64(len(rest)) && pos+total <= s.size {
				need = total
				continue
			}
		}
		return pos, next, nil
	}
	return pos, next, nil
}

// allZero reports whether the n bytes of f at off are all zero (n is small).
func allZero(f *os.File, off, n int64) bool {
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
