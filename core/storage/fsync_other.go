//go:build !linux

package storage

import "os"

// fdatasync falls back to fsync where fdatasync is not available.
func fdatasync(f *os.File) error { return f.Sync() }

// writeback does nothing where sync_file_range is not available: the final
// fdatasync writes everything.
func writeback(*os.File, int64, int64, int64, int64) error { return nil }
