package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamd/streamd/core/batch"
)

// segment is one .log file with its two index files.
//
// Lifetime: the Log holds one reference; readers and flushes take more while
// they do I/O without the Log's lock. The files are closed when the last
// reference goes, so a segment deleted underneath a reader stays readable
// (its files are already unlinked) until the reader is done.
type segment struct {
	base     int64
	prefix   string // dir/<20 digits>
	interval int64  // index interval bytes
	f        *os.File
	refs     atomic.Int32
	removed  atomic.Bool // files unlinked
	reaper   *reaper     // set before removed: frees f's blocks after the last reference

	// Guarded by Log.mu.
	size        int64
	reserved    int64         // bytes of the file reserved with fallocate (beyond size); -1: unsupported
	next        int64         // offset after the last batch
	created     time.Time     // first append (or a stand-in after a restart)
	rollJitter  time.Duration // rolls this much before SegmentMs (drawn on first check)
	jitterDrawn bool
	sealed      bool        // no longer the active segment
	mem         *memIndex   // authoritative in-memory indexes, nil once on disk
	inUnsynced  bool        // in Log.unsynced (which holds a reference)
	idxF, tsF   *os.File    // index files (write handles of the active segment)
	dio         *directTail // direct appends: the unsynced end lives here (direct.go)

	// Lazily opened on-disk indexes of a sealed segment; guarded by lazyMu.
	// Lock order: Log.mu before lazyMu.
	lazyMu      sync.Mutex
	diskReady   bool       // idxF/tsF (or rebuilt) checked and usable
	rebuiltOff  []offEntry // non-nil: index rebuilt in memory (file was bad)
	rebuiltTs   []tsEntry
	rebuilt     bool
	rdio        *os.File // O_DIRECT read handle (direct logs), opened on first read
	rdioRefused bool
}

func segmentPrefix(dir string, base int64) string {
	return filepath.Join(dir, fmt.Sprintf("%0*d", SegmentNameDigits, base))
}

// parseSegmentName returns the base offset of a "<20 digits><suffix>" name.
func parseSegmentName(name, suffix string) (int64, bool) {
	if len(name) != SegmentNameDigits+len(suffix) || name[SegmentNameDigits:] != suffix {
		return 0, false
	}
	v, err := strconv.ParseInt(name[:SegmentNameDigits], 10, 64)
	return v, err == nil && v >= 0
}

// createSegment creates the files of a new, empty active segment.
func createSegment(dir string, base, interval int64) (*segment, error) {
	s := &segment{base: base, prefix: segmentPrefix(dir, base), interval: interval, next: base, mem: &memIndex{}}
	var err error
	if s.f, err = os.OpenFile(s.prefix+LogSuffix, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
		return nil, fmt.Errorf("storage: create segment: %w", err)
	}
	if s.idxF, err = os.OpenFile(s.prefix+IndexSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err == nil {
		s.tsF, err = os.OpenFile(s.prefix+TimeIndexSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	}
	if err != nil {
		s.closeFiles()
		os.Remove(s.prefix + LogSuffix)
		return nil, fmt.Errorf("storage: create segment: %w", err)
	}
	s.refs.Store(1)
	return s, nil
}

// openSegment opens the .log file of an existing segment.
func openSegment(dir string, base, interval int64) (*segment, error) {
	s := &segment{base: base, prefix: segmentPrefix(dir, base), interval: interval, next: base}
	var err error
	if s.f, err = os.OpenFile(s.prefix+LogSuffix, os.O_RDWR, 0); err != nil {
		return nil, fmt.Errorf("storage: open segment: %w", err)
	}
	st, err := s.f.Stat()
	if err != nil {
		s.f.Close()
		return nil, fmt.Errorf("storage: open segment: %w", err)
	}
	s.size = st.Size()
	s.created = st.ModTime()
	s.refs.Store(1)
	return s, nil
}

// openIndexFiles opens (creating if missing) both index files for writing.
func (s *segment) openIndexFiles() error {
	var err error
	if s.idxF == nil {
		if s.idxF, err = os.OpenFile(s.prefix+IndexSuffix, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return fmt.Errorf("storage: open index: %w", err)
		}
	}
	if s.tsF == nil {
		if s.tsF, err = os.OpenFile(s.prefix+TimeIndexSuffix, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return fmt.Errorf("storage: open time index: %w", err)
		}
	}
	return nil
}

// PreallocStep is how far ahead of the write position a segment's blocks are reserved.
const PreallocStep = 32 << 20

// reserve makes sure blocks up to end are reserved, in PreallocStep steps capped at
// limit (the segment size limit). Errors only disable reservation: it is an
// optimisation, never needed for correctness.
func (s *segment) reserve(end, limit int64) {
	if s.reserved < 0 || end <= s.reserved {
		return
	}
	from := max(s.reserved, s.size)
	want := max(end, min(from+PreallocStep, limit))
	if err := fallocKeepSize(s.f, from, want-from); err != nil {
		s.reserved = -1
		return
	}
	s.reserved = want
}

// trimReserved gives back reserved blocks past the end of a sealed or closing segment.
func (s *segment) trimReserved() {
	if s.reserved > s.size {
		_ = s.f.Truncate(s.size)
	}
	s.reserved = 0
}

func (s *segment) acquire() { s.refs.Add(1) }

func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.closeFiles()
	}
}

func (s *segment) closeFiles() {
	if s.dio != nil {
		s.dio.close()
	}
	if s.rdio != nil {
		s.rdio.Close()
	}
	f := s.f
	if f != nil && s.reaper != nil && s.removed.Load() {
		s.reaper.add(f) // it closes f
		f = nil
	}
	for _, f := range []*os.File{f, s.idxF, s.tsF} {
		if f != nil {
			f.Close()
		}
	}
}

// remove unlinks the segment's files; open handles keep working. With a
// reaper, the log file's blocks are freed through it once the last
// reference goes.
func (s *segment) remove(r *reaper) error {
	s.reaper = r
	s.removed.Store(true)
	var first error
	for _, suf := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
		if err := os.Remove(s.prefix + suf); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = fmt.Errorf("storage: delete segment: %w", err)
		}
	}
	return first
}

// readHeader reads and parses the batch header at pos.
func (s *segment) readHeader(pos int64, buf *[batch.HeaderLen]byte) (batch.Header, error) {
	if _, err := s.f.ReadAt(buf[:], pos); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return batch.Header{}, fmt.Errorf("storage: read %s at %d: %w", filepath.Base(s.prefix+LogSuffix), pos, err)
	}
	return batch.ParseHeader(buf[:])
}

var errBadBatch = errors.New("storage: segment holds no valid batch here")

// walk calls fn with each batch header in [from, to), trusting the data
// (no CRC check) but not the framing.
func (s *segment) walk(from, to int64, fn func(pos int64, h batch.Header) bool) error {
	var buf [batch.HeaderLen]byte
	for pos := from; pos < to; {
		h, err := s.readHeader(pos, &buf)
		if err != nil {
			return err
		}
		n := int64(h.TotalSize())
		if h.Magic != batch.MagicV2 || n < batch.HeaderLen || pos+n > to {
			return fmt.Errorf("%w: %s position %d", errBadBatch, filepath.Base(s.prefix), pos)
		}
		if !fn(pos, h) {
			return nil
		}
		pos += n
	}
	return nil
}

// buildIndex walks the batches in [0, size) and indexes them.
func (s *segment) buildIndex(size int64) (*memIndex, error) {
	m := &memIndex{}
	err := s.walk(0, size, func(pos int64, h batch.Header) bool {
		m.add(uint32(h.BaseOffset-s.base), pos, h.MaxTimestamp, s.interval)
		return true
	})
	return m, err
}

// segView is what a reader needs of a segment, copied under Log.mu.
type segView struct {
	seg   *segment
	limit int64 // readable bytes: up to the high watermark
	next  int64 // offset after the segment's last batch
	off   []offEntry
	ts    []tsEntry
	mem   bool // off and ts are authoritative
}

// indexes returns the segment's offset and time indexes.
func (v *segView) indexes(logger *slog.Logger) (offIndex, tsIndex, error) {
	if v.mem {
		return memOffIndex(v.off), memTsIndex(v.ts), nil
	}
	return v.seg.diskIndexes(v.next, logger)
}

// diskIndexes returns the on-disk indexes of a sealed segment, opening and
// checking them on first use. A missing or damaged file makes it rebuild
// both by walking the segment's batch headers.
func (s *segment) diskIndexes(next int64, logger *slog.Logger) (offIndex, tsIndex, error) {
	s.lazyMu.Lock()
	defer s.lazyMu.Unlock()
	if !s.diskReady {
		if err := s.checkDiskIndexes(next); err != nil {
			logger.Warn("storage: rebuilding index", "segment", filepath.Base(s.prefix), "reason", err)
			if err := s.rebuildLocked(); err != nil {
				return offIndex{}, tsIndex{}, err
			}
		}
		s.diskReady = true
	}
	if s.rebuilt {
		return memOffIndex(s.rebuiltOff), memTsIndex(s.rebuiltTs), nil
	}
	oi, ti := offIndex{f: s.idxF}, tsIndex{f: s.tsF}
	st, err := s.idxF.Stat()
	if err == nil {
		oi.n = int(st.Size() / OffsetIndexEntrySize)
		st, err = s.tsF.Stat()
	}
	if err != nil {
		return oi, ti, fmt.Errorf("storage: stat index: %w", err)
	}
	ti.n = int(st.Size() / TimeIndexEntrySize)
	return oi, ti, nil
}

// checkDiskIndexes opens the index files of a sealed segment and checks them
// cheaply: whole entries, first and last entry in range.
func (s *segment) checkDiskIndexes(next int64) error {
	if s.idxF == nil {
		f, err := os.Open(s.prefix + IndexSuffix)
		if err != nil {
			return err
		}
		s.idxF = f
	}
	if s.tsF == nil {
		f, err := os.Open(s.prefix + TimeIndexSuffix)
		if err != nil {
			return err
		}
		s.tsF = f
	}
	relLimit, size := next-s.base, s.sizeOnDisk()
	st, err := s.idxF.Stat()
	if err != nil {
		return err
	}
	if st.Size()%OffsetIndexEntrySize != 0 {
		return fmt.Errorf("index size %d is not a multiple of %d", st.Size(), OffsetIndexEntrySize)
	}
	oi := offIndex{f: s.idxF, n: int(st.Size() / OffsetIndexEntrySize)}
	var prevOff offEntry
	for k, i := range []int{0, oi.n - 1} {
		if oi.n == 0 || (k == 1 && i == 0) {
			break
		}
		e, err := oi.at(i)
		if err != nil {
			return err
		}
		if e.rel == 0 || e.pos == 0 || int64(e.rel) >= relLimit || int64(e.pos) >= size ||
			(k == 1 && (e.rel <= prevOff.rel || e.pos <= prevOff.pos)) {
			return fmt.Errorf("index entry %d (%d, %d) out of range or order", i, e.rel, e.pos)
		}
		prevOff = e
	}
	if st, err = s.tsF.Stat(); err != nil {
		return err
	}
	if st.Size()%TimeIndexEntrySize != 0 {
		return fmt.Errorf("time index size %d is not a multiple of %d", st.Size(), TimeIndexEntrySize)
	}
	ti := tsIndex{f: s.tsF, n: int(st.Size() / TimeIndexEntrySize)}
	if ti.n == 0 && size > 0 {
		// A segment with batches has at least one entry unless every
		// timestamp is -1; check by looking at the first batch.
		var buf [batch.HeaderLen]byte
		h, err := s.readHeader(0, &buf)
		if err != nil {
			return err
		}
		if h.MaxTimestamp > -1 {
			return errors.New("time index is empty")
		}
	}
	var prev tsEntry
	for k, i := range []int{0, ti.n - 1} {
		if ti.n == 0 || (k == 1 && i == 0) {
			break
		}
		e, err := ti.at(i)
		if err != nil {
			return err
		}
		if e.ts < 0 || int64(e.rel) >= relLimit || (k == 1 && (e.ts <= prev.ts || e.rel <= prev.rel)) {
			return fmt.Errorf("time index entry %d (%d, %d) out of range or order", i, e.ts, e.rel)
		}
		prev = e
	}
	return nil
}

func (s *segment) sizeOnDisk() int64 {
	st, err := s.f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// rebuildLocked rebuilds the indexes of a sealed segment in memory and
// rewrites the files (best effort: the in-memory copy is what is used).
func (s *segment) rebuildLocked() error {
	m, err := s.buildIndex(s.sizeOnDisk())
	if err != nil {
		return err
	}
	s.rebuilt, s.rebuiltOff, s.rebuiltTs = true, m.off, m.ts
	if s.removed.Load() {
		return nil
	}
	// Best effort: the in-memory copy serves this process either way.
	dir, base := filepath.Dir(s.prefix), filepath.Base(s.prefix)
	_ = writeFileAtomic(dir, base+IndexSuffix, appendOffEntries(nil, m.off))
	_ = writeFileAtomic(dir, base+TimeIndexSuffix, appendTsEntries(nil, m.ts))
	return nil
}

// markIndexBad makes the next diskIndexes call rebuild the indexes.
func (s *segment) markIndexBad() {
	s.lazyMu.Lock()
	if !s.rebuilt {
		s.diskReady = false
		s.rebuildLocked()
		s.diskReady = true
	}
	s.lazyMu.Unlock()
}
