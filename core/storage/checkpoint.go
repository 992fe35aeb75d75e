package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// recoveryPoint is a batch boundary up to which the log is known to be on
// disk: position pos of segment seg, where the next batch has offset next.
// offEntries and tsEntries count that segment's index entries below the
// point, so a shortened index file is noticed.
type recoveryPoint struct {
	seg, pos, next        int64
	offEntries, tsEntries int64
}

// writeFileAtomic replaces dir/name with data so that a crash leaves either
// the old or the new content: write name.tmp, fsync, rename, fsync dir.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+TempSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("storage: write %s: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// readCheckpoint returns the lines of dir/name after checking the version
// line; (nil, nil) if the file does not exist.
func readCheckpoint(dir, name string) ([][]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", name, err)
	}
	var lines [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, strings.Fields(sc.Text()))
	}
	if len(lines) == 0 || len(lines[0]) != 1 || lines[0][0] != strconv.Itoa(CheckpointVersion) {
		return nil, fmt.Errorf("storage: read %s: missing or unknown version line", name)
	}
	return lines[1:], nil
}

func parseInts(name string, fields []string, want int) ([]int64, error) {
	if len(fields) != want {
		return nil, fmt.Errorf("storage: read %s: want %d numbers, got %q", name, want, strings.Join(fields, " "))
	}
	out := make([]int64, want)
	for i, f := range fields {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("storage: read %s: %w", name, err)
		}
		out[i] = v
	}
	return out, nil
}

// recoveryPointSize is the recovery point file's fixed length: the text padded
// with spaces before its last newline, so that every rewrite covers the whole
// previous content (at most 102 bytes) within one disk sector.
const recoveryPointSize = 128

func formatRecoveryPoint(rp recoveryPoint) []byte {
	b := fmt.Appendf(make([]byte, 0, recoveryPointSize), "%d\n%d %d %d %d %d", CheckpointVersion, rp.seg, rp.pos, rp.next, rp.offEntries, rp.tsEntries)
	for len(b) < recoveryPointSize-1 {
		b = append(b, ' ')
	}
	return append(b, '\n')
}

// writeRecoveryPointFile overwrites dir/recovery-point in place (one write of
// recoveryPointSize bytes at offset 0, then fdatasync). The point is written
// every log.flush.offset.checkpoint.interval.ms for every partition: replacing
// it by rename, like the other checkpoints, freed the old file's block and
// updated the directory each time, and on a file system mounted with discard
// every freed block is a discard request to the device. Those stalled the
// partitions' own writes and fdatasyncs for 20-45 ms now and then. A write
// within one sector lands whole or not at all on the disks this runs on; a
// point that still does not parse is ignored with a warning, which costs a
// longer recovery scan, never data.
func writeRecoveryPointFile(dir string, rp recoveryPoint) error {
	path := filepath.Join(dir, RecoveryPointFile)
	st, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", RecoveryPointFile, err)
	}
	_, err = f.WriteAt(formatRecoveryPoint(rp), 0)
	if err == nil && statErr == nil && st.Size() > recoveryPointSize {
		err = f.Truncate(recoveryPointSize) // longer than any point ever written
	}
	if err == nil {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && statErr != nil { // a new name: make it durable too
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", RecoveryPointFile, err)
	}
	return nil
}

// readRecoveryPoint returns ok=false if the file does not exist.
func readRecoveryPoint(dir string) (rp recoveryPoint, ok bool, err error) {
	lines, err := readCheckpoint(dir, RecoveryPointFile)
	if err != nil || lines == nil {
		return rp, false, err
	}
	if len(lines) != 1 {
		return rp, false, fmt.Errorf("storage: read %s: want 1 entry, got %d", RecoveryPointFile, len(lines))
	}
	v, err := parseInts(RecoveryPointFile, lines[0], 5)
	if err != nil {
		return rp, false, err
	}
	rp = recoveryPoint{seg: v[0], pos: v[1], next: v[2], offEntries: v[3], tsEntries: v[4]}
	if rp.seg < 0 || rp.pos < 0 || rp.next < rp.seg || rp.offEntries < 0 || rp.tsEntries < 0 {
		return rp, false, fmt.Errorf("storage: read %s: impossible point %v", RecoveryPointFile, v)
	}
	return rp, true, nil
}

func formatStartOffset(off int64) []byte {
	return fmt.Appendf(nil, "%d\n%d\n", CheckpointVersion, off)
}

// readStartOffset returns -1 if the file does not exist.
func readStartOffset(dir string) (int64, error) {
	lines, err := readCheckpoint(dir, LogStartOffsetFile)
	if err != nil || lines == nil {
		return -1, err
	}
	if len(lines) != 1 {
		return -1, fmt.Errorf("storage: read %s: want 1 entry, got %d", LogStartOffsetFile, len(lines))
	}
	v, err := parseInts(LogStartOffsetFile, lines[0], 1)
	if err != nil {
		return -1, err
	}
	if v[0] < 0 {
		return -1, fmt.Errorf("storage: read %s: negative offset %d", LogStartOffsetFile, v[0])
	}
	return v[0], nil
}

func formatEpochs(entries []epochEntry) []byte {
	b := fmt.Appendf(nil, "%d\n%d\n", CheckpointVersion, len(entries))
	for _, e := range entries {
		b = fmt.Appendf(b, "%d %d\n", e.epoch, e.start)
	}
	return b
}

func readEpochs(dir string) ([]epochEntry, error) {
	lines, err := readCheckpoint(dir, LeaderEpochFile)
	if err != nil || lines == nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("storage: read %s: missing count line", LeaderEpochFile)
	}
	n, err := parseInts(LeaderEpochFile, lines[0], 1)
	if err != nil {
		return nil, err
	}
	if int64(len(lines)-1) != n[0] {
		return nil, fmt.Errorf("storage: read %s: count %d but %d entries", LeaderEpochFile, n[0], len(lines)-1)
	}
	out := make([]epochEntry, 0, n[0])
	for _, l := range lines[1:] {
		v, err := parseInts(LeaderEpochFile, l, 2)
		if err != nil {
			return nil, err
		}
		e := epochEntry{epoch: int32(v[0]), start: v[1]}
		if v[0] < 0 || v[0] > 1<<31-1 || e.start < 0 ||
			(len(out) > 0 && (e.epoch <= out[len(out)-1].epoch || e.start < out[len(out)-1].start)) {
			return nil, fmt.Errorf("storage: read %s: entry %q out of order", LeaderEpochFile, strings.Join(l, " "))
		}
		out = append(out, e)
	}
	return out, nil
}
