package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// unlinkedFile creates a file of size bytes (sparse), opens it twice and
// unlinks it: the first handle is for the reaper, the second observes the
// inode's size.
func unlinkedFile(t *testing.T, size int64) (owned, observer *os.File) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "victim")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	obs, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close() })
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	return f, obs
}

func sizeOf(t *testing.T, f *os.File) int64 {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// observeFirstSegment syncs l and opens a second handle of its first
// segment's log file, to watch the inode's size after the file is deleted.
func observeFirstSegment(t *testing.T, l *Log) (*os.File, int64) {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	obs, err := os.Open(segmentPrefix(l.Dir(), l.Segments()[0].BaseOffset) + LogSuffix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close() })
	return obs, sizeOf(t, obs)
}

// waitShrunk polls the observer until the inode is empty and the reaper is
// idle; it reports whether a size strictly between full and empty was seen.
func waitShrunk(t *testing.T, r *reaper, obs *os.File, full int64) (sawPartial bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := sizeOf(t, obs)
		sawPartial = sawPartial || (n > 0 && n < full)
		if n == 0 && r.pending() == 0 {
			return sawPartial
		}
		if time.Now().After(deadline) {
			t.Fatalf("file still %d bytes (of %d), %d pending", n, full, r.pending())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReaperShrinksStepByStep(t *testing.T) {
	r := &reaper{logger: quietLogger()}
	defer r.close()
	const full = 6*reapStep + 123
	f, obs := unlinkedFile(t, full)
	r.add(f)
	if !waitShrunk(t, r, obs, full) {
		t.Fatalf("never saw the file part-way shrunk: it was freed at once")
	}
}

func TestReaperCloseStopsPacing(t *testing.T) {
	r := &reaper{logger: quietLogger()}
	const full = 1 << 30 // 1024 steps: minutes of pacing
	f, obs := unlinkedFile(t, full)
	r.add(f)
	r.close() // returns once the file is closed, without walking every step
	if r.pending() != 0 {
		t.Fatalf("%d files pending after close", r.pending())
	}
	if n := sizeOf(t, obs); n == 0 {
		t.Fatalf("close walked the whole file down; want it to stop pacing")
	}
	// After close, files are closed at once.
	f2, obs2 := unlinkedFile(t, 3*reapStep)
	r.add(f2)
	if r.pending() != 0 || sizeOf(t, obs2) != 3*reapStep {
		t.Fatalf("add after close: %d pending, size %d; want the file just closed", r.pending(), sizeOf(t, obs2))
	}
}

// TestReaperQueueIsBounded: past maxReapQueue waiting files, more are closed
// at once instead of holding a descriptor each.
func TestReaperQueueIsBounded(t *testing.T) {
	r := &reaper{logger: quietLogger()}
	defer r.close()
	var last *os.File
	for range maxReapQueue + 2 { // the first is taken off the queue by the goroutine
		f, obs := unlinkedFile(t, 1<<30)
		r.add(f)
		last = obs
	}
	if n := r.pending(); n > maxReapQueue+1 {
		t.Fatalf("%d files pending, want at most %d", n, maxReapQueue+1)
	}
	// The last one found the queue full: closed untouched, not shrunk.
	if n := sizeOf(t, last); n != 1<<30 {
		t.Fatalf("file beyond the queue bound has size %d, want it closed untouched", n)
	}
}

// TestRetentionFreesThroughReaper: a segment deleted by retention while a
// reader holds it keeps its blocks until the reader is done, then goes to the
// Flusher's reaper, which empties it step by step.
func TestRetentionFreesThroughReaper(t *testing.T) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 3 * reapStep}, fl)
	for i := range 8 {
		mustAppend(t, l, sizedBatch(reapStep, int64(i)))
	}
	obs, full := observeFirstSegment(t, l)
	fr, err := l.ReadFile(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := l.ApplyRetention(-1, 0, time.Now()); err != nil || res.SegmentsDeleted == 0 {
		t.Fatalf("retention: %+v, %v", res, err)
	}
	time.Sleep(3 * reapGap)
	if n := sizeOf(t, obs); n != full {
		t.Fatalf("deleted segment shrank to %d while a reader held it (full %d)", n, full)
	}
	fr.Release()
	if !waitShrunk(t, &fl.reaper, obs, full) {
		t.Fatalf("the deleted segment was freed at once, not step by step")
	}
}

// TestCompactFreesReplacedSegmentThroughReaper: the file a cleaned segment
// replaces is emptied by the reaper once the log lets go of it.
func TestCompactFreesReplacedSegmentThroughReaper(t *testing.T) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	l := openLog(t, t.TempDir(), Options{SegmentBytes: 3 << 19, FlushInterval: time.Hour}, fl)
	written := compactWorkload(t, l, rand.New(rand.NewPCG(23, 1)), 20000, 50)
	obs, full := observeFirstSegment(t, l)
	if full <= reapStep {
		t.Fatalf("first segment is %d bytes; the test needs more than one step", full)
	}
	if res, err := l.Compact(CompactOptions{DeleteRetentionMs: -1}); err != nil || !res.Cleaned {
		t.Fatalf("%+v, %v", res, err)
	}
	if !waitShrunk(t, &fl.reaper, obs, full) {
		t.Fatalf("the replaced segment was freed at once, not step by step")
	}
	checkCompacted(t, written, readCompacted(t, l), activeBase(l), false)
}

// TestDeleteFreesThroughReaper: deleting a whole log (directly, or through a
// tomb name as the broker does) removes its directory at once and leaves the
// segment files' blocks to the reaper.
func TestDeleteFreesThroughReaper(t *testing.T) {
	for _, via := range []bool{false, true} {
		t.Run(fmt.Sprintf("via=%v", via), func(t *testing.T) {
			fl := NewFlusher(quietLogger())
			defer fl.Close()
			root := t.TempDir()
			dir := filepath.Join(root, "topic-0")
			l := openLog(t, dir, Options{SegmentBytes: 3 * reapStep}, fl)
			for i := range 4 {
				mustAppend(t, l, sizedBatch(reapStep, int64(i)))
			}
			obs, full := observeFirstSegment(t, l)
			tomb := ""
			if via {
				tomb = filepath.Join(root, "topic-0.x-delete")
			}
			if err := l.DeleteVia(tomb); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(root); len(ents) != 0 {
				t.Fatalf("left in the data dir after Delete: %v", ents)
			}
			if !waitShrunk(t, &fl.reaper, obs, full) {
				t.Fatalf("the deleted log's segment was freed at once, not step by step")
			}
		})
	}
}

// TestFlusherRemoveAll: a partition directory removed outside a Log (a
// leftover) is gone at once; its segment files are freed step by step.
func TestFlusherRemoveAll(t *testing.T) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	dir := filepath.Join(t.TempDir(), "old-0.x-delete")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := segmentPrefix(dir, 0) + LogSuffix
	const full = 4 * reapStep
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(name, full); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "leader-epoch-checkpoint"), []byte("0\n0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	obs, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	if err := fl.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there: %v", err)
	}
	if !waitShrunk(t, &fl.reaper, obs, full) {
		t.Fatalf("the segment was freed at once, not step by step")
	}
}
