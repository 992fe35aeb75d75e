package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// The swap of a cleaned segment into place (steps 2-6 of the protocol in
// compact.go).

// writeSynced writes data to a new file name and fdatasyncs it.
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
	// Retention or DeleteRecords may have deleted old (and all before it)
	// meanwhile: then no segment starts at or below its base.
	i := l.segmentForLocked(old.base)
	present := err == nil && i >= 0 && l.segs[i] == old && !l.holdsRecoveryPointLocked(old)
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
	old.reaper = l.reaper() // the commit below replaces its file: free the old blocks gradually
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
	i = l.segmentForLocked(old.base) // unchanged: adminMu keeps segments from going
	l.segs[i] = ns
	l.size += ns.size - old.size
	l.mu.Unlock()
	old.release() // the Log's reference; readers hold their own
	return true, nil
}
