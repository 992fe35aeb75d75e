package storage

import (
	"fmt"
	"os"
	"time"
)

type flushMode int

const (
	flushNormal     flushMode = iota
	flushOpen                 // end of Open: checkpoint the recovered log
	flushClose                // Close: sync index files too, checkpoint the end
	flushCheckpoint           // Compact: checkpoint now, even if not due
)

// flushJob is one segment to sync, with the index entries to write first.
type flushJob struct {
	seg          *segment
	off          []offEntry
	offAt        int
	ts           []tsEntry
	tsAt         int
	sealed       bool
	syncIndexes  bool
	heldRefCount bool        // the job holds a reference to release
	dio          *directTail // direct segment: its tail, written up to end before the sync
	end          int64
}

// Sync writes and fdatasyncs everything appended so far and advances the
// high watermark to the log end offset it saw.
func (l *Log) Sync() error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return l.flush(flushNormal)
}

// flush syncs every unsynced segment (writing pending index entries first),
// then advances the high watermark (Fsync mode) to the log end it saw at the
// start, and writes the recovery point when it is due.
func (l *Log) flush(mode flushMode) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()

	l.mu.Lock()
	if l.released || (l.closed && mode != flushClose) {
		l.mu.Unlock()
		return nil
	}
	if l.err != nil { // never checkpoint past a failed write or sync
		err := l.err
		l.mu.Unlock()
		return err
	}
	active := l.segs[len(l.segs)-1]
	target := recoveryPoint{seg: active.base, pos: active.size, next: l.leo,
		offEntries: int64(len(active.mem.off)), tsEntries: int64(len(active.mem.ts))}
	ckpt := mode != flushNormal ||
		(target != l.ckpt && time.Since(l.lastCkpt) >= l.opts.CheckpointInterval)
	jobs := l.jobs[:0]
	activeQueued := false
	for _, s := range l.unsynced {
		j := flushJob{seg: s, sealed: s.sealed, heldRefCount: true}
		if m := s.mem; m != nil {
			j.off, j.offAt = m.off[m.offFlushed:], m.offFlushed
			j.ts, j.tsAt = m.ts[m.tsFlushed:], m.tsFlushed
			m.offFlushed, m.tsFlushed = len(m.off), len(m.ts)
		}
		if s.dio != nil {
			j.dio, j.end = s.dio, s.size
		}
		s.inUnsynced = false
		activeQueued = activeQueued || s == active
		jobs = append(jobs, j)
	}
	clear(l.unsynced)
	l.unsynced = l.unsynced[:0]
	if ckpt && !activeQueued {
		active.acquire()
		jobs = append(jobs, flushJob{seg: active, heldRefCount: true})
	}
	dirDirty := l.dirDirty
	l.dirDirty = false
	l.mu.Unlock()

	// Phase 1: index entries, data, sealed segments' index files, directory.
	var err error
	start := time.Now()
	for i := range jobs {
		if err == nil {
			err = l.syncJob(&jobs[i])
		}
	}
	if err == nil && dirDirty {
		if err = syncDir(l.dir); err != nil {
			err = fmt.Errorf("sync dir: %w", err)
		}
	}
	synced := time.Now()
	if err == nil && (len(jobs) > 0 || dirDirty) {
		observeFlush(synced.Sub(start))
	}

	// Phase 2: publish.
	keepTail := l.tailReaders(synced.UnixNano())
	l.mu.Lock()
	if err != nil {
		l.failLocked(err)
		err = l.err
	} else {
		for i := range jobs {
			if t := jobs[i].dio; t != nil {
				t.done(jobs[i].end, keepTail)
				if jobs[i].sealed {
					t.close() // no write-behind: nothing is left to write
					jobs[i].seg.dio = nil
				}
			}
			if s := jobs[i].seg; jobs[i].sealed && s.mem != nil && s.mem.offFlushed == len(s.mem.off) && s.mem.tsFlushed == len(s.mem.ts) {
				s.lazyMu.Lock()
				s.diskReady = true
				s.lazyMu.Unlock()
				s.mem = nil
			}
		}
		if l.opts.Fsync {
			l.setHWMLocked(target.next, target.seg, target.pos)
		}
		if target.next >= l.flushed.next {
			l.flushed = target
		}
	}
	l.mu.Unlock()

	// Phase 3: the recovery point, after the active segment's index files
	// are synced (the point vouches for them too).
	if err == nil && ckpt {
		for i := range jobs {
			if jobs[i].seg == active && err == nil {
				err = syncIndexFiles(active)
			}
		}
		if err == nil {
			err = l.writeRecoveryPoint(target)
		}
		l.lastCkpt = time.Now()
	}
	for i := range jobs {
		if jobs[i].heldRefCount {
			jobs[i].seg.release()
		}
		jobs[i] = flushJob{}
	}
	l.jobs = jobs[:0]
	return err
}

func (l *Log) syncJob(j *flushJob) error {
	s := j.seg
	if len(j.off) > 0 {
		l.flushBuf = appendOffEntries(l.flushBuf[:0], j.off)
		if _, err := s.idxF.WriteAt(l.flushBuf, int64(j.offAt)*OffsetIndexEntrySize); err != nil {
			return fmt.Errorf("write index: %w", err)
		}
	}
	if len(j.ts) > 0 {
		l.flushBuf = appendTsEntries(l.flushBuf[:0], j.ts)
		if _, err := s.tsF.WriteAt(l.flushBuf, int64(j.tsAt)*TimeIndexEntrySize); err != nil {
			return fmt.Errorf("write time index: %w", err)
		}
	}
	if j.dio != nil {
		if err := l.writeTail(s, j.dio, j.end, j.sealed); err != nil {
			return err
		}
	}
	if err := fdatasync(s.f); err != nil {
		return fmt.Errorf("fdatasync %s: %w", s.prefix+LogSuffix, err)
	}
	if j.sealed {
		return syncIndexFiles(s)
	}
	return nil
}

func syncIndexFiles(s *segment) error {
	for _, f := range []*os.File{s.idxF, s.tsF} {
		if f == nil {
			continue
		}
		if err := fdatasync(f); err != nil {
			return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
		}
	}
	return nil
}

// writeRecoveryPoint persists rp unless a newer point already is. A point in
// a segment deleted meanwhile becomes the start of the first segment.
func (l *Log) writeRecoveryPoint(rp recoveryPoint) error {
	l.rpMu.Lock()
	defer l.rpMu.Unlock()
	l.mu.RLock()
	if len(l.segs) > 0 && rp.seg < l.segs[0].base {
		first := l.segs[0].base
		rp = recoveryPoint{seg: first, pos: 0, next: first}
	}
	cur, curValid := l.ckpt, len(l.segs) > 0 && l.ckpt.seg >= l.segs[0].base
	l.mu.RUnlock()
	if rp == cur || (curValid && rp.next < cur.next) {
		return nil
	}
	if err := writeRecoveryPointFile(l.dir, rp); err != nil {
		return err
	}
	l.mu.Lock()
	l.ckpt = rp
	l.mu.Unlock()
	return nil
}

func (l *Log) writeEpochsLocked() error {
	l.epochMu.Lock()
	defer l.epochMu.Unlock()
	return writeFileAtomic(l.dir, LeaderEpochFile, formatEpochs(l.epochs.entries))
}

// Close flushes the log, writes its checkpoints and index files and closes
// its files. Waiters get ErrClosed. It is idempotent.
func (l *Log) Close() error {
	l.adminMu.Lock()
	defer l.adminMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.notifyLocked()
	l.mu.Unlock()

	err := l.flush(flushClose)
	l.ra.close()
	l.behindWG.Wait() // they see closed and stop

	l.flushMu.Lock()
	l.mu.Lock()
	segs, uns := l.segs, l.unsynced
	l.segs, l.unsynced, l.released = nil, nil, true
	if len(segs) > 0 {
		if a := segs[len(segs)-1]; a.dio != nil {
			// Cut the padding of the last direct write (not after a failed
			// flush: then a.size holds bytes never written). A crash before
			// this is durable leaves zeros the next Open cuts as a torn tail.
			if err == nil && a.f.Truncate(a.size) == nil {
				_ = fdatasync(a.f)
			}
			a.dio.close()
			a.dio = nil
			a.reserved = 0
		} else {
			a.trimReserved()
		}
	}
	l.mu.Unlock()
	l.flushMu.Unlock()
	for _, s := range uns {
		s.release()
	}
	for _, s := range segs {
		s.release()
	}
	return err
}

// Delete closes the log and removes its directory. With a Flusher, the
// segment files' blocks are then freed step by step by its reaper.
func (l *Log) Delete() error { return l.DeleteVia("") }

// DeleteVia is Delete that first renames the directory to tomb (unless tomb
// is empty), so that a crash in the middle leaves a name the caller knows to
// finish deleting. If the rename fails, the directory is removed where it is.
func (l *Log) DeleteVia(tomb string) error {
	err := l.Close()
	dir := l.dir
	if tomb != "" {
		if rerr := os.Rename(dir, tomb); rerr == nil {
			dir = tomb
		} else if err == nil {
			err = fmt.Errorf("storage: delete: %w", rerr)
		}
	}
	rerr := removeAll(l.reaper(), dir)
	if rerr != nil && err == nil {
		err = fmt.Errorf("storage: delete: %w", rerr)
	}
	return err
}
