package storage

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRecoveryPointInPlace: the recovery point is rewritten in the same file
// (no rename, so no block is freed), always at its fixed size, and every
// write reads back exactly, whether the file held a longer point, the shorter
// format of earlier versions, or trailing bytes past the fixed size.
func TestRecoveryPointInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, RecoveryPointFile)
	// The format written by rename before: no padding.
	if err := os.WriteFile(path, []byte("0\n5 10 7 0 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rp, ok, err := readRecoveryPoint(dir); err != nil || !ok || rp != (recoveryPoint{seg: 5, pos: 10, next: 7, tsEntries: 1}) {
		t.Fatalf("old format read as %+v, %v, %v", rp, ok, err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	points := []recoveryPoint{
		{seg: 1 << 60, pos: 1 << 40, next: 1<<60 + 12345678901, offEntries: 1 << 30, tsEntries: 1 << 30},
		{seg: 3, pos: 4, next: 5, offEntries: 0, tsEntries: 2}, // shorter after longer
		{seg: 9223372036854775807, pos: 9223372036854775807, next: 9223372036854775807, offEntries: 9223372036854775807, tsEntries: 9223372036854775807},
	}
	for i, want := range points {
		if i == 2 { // bytes past the fixed size, as no write ever leaves them
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("9 9 9\n")
			f.Close()
		}
		if err := writeRecoveryPointFile(dir, want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := readRecoveryPoint(dir)
		if err != nil || !ok || got != want {
			t.Fatalf("write %d: read back %+v, %v, %v; want %+v", i, got, ok, err, want)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != recoveryPointSize {
			t.Errorf("write %d: file is %d bytes, want %d", i, st.Size(), recoveryPointSize)
		}
		if !os.SameFile(before, st) {
			t.Fatalf("write %d replaced the file instead of rewriting it", i)
		}
	}
	if _, err := os.Stat(path + TempSuffix); !os.IsNotExist(err) {
		t.Errorf("a temporary file was left: %v", err)
	}
	// A missing file is created.
	dir2 := t.TempDir()
	if err := writeRecoveryPointFile(dir2, points[1]); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := readRecoveryPoint(dir2); err != nil || !ok || got != points[1] {
		t.Fatalf("new file read back %+v, %v, %v", got, ok, err)
	}
}
