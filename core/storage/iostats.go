package storage

import "sync/atomic"

// IOStats counts the direct-I/O read path of every log in the process (see
// direct_read.go and readahead.go), for metrics.
type IOStats struct {
	DirectReads     int64 // fetch ranges read from disk with O_DIRECT
	DirectReadBytes int64 // their bytes
	CacheReads      int64 // fetch ranges answered from the read-ahead cache
	CacheReadBytes  int64 // their bytes
	ReadAheadChunks int64 // chunks the read-ahead has read
	ChunksInUse     int64 // read-ahead chunks in memory now
}

var ioStats struct {
	directReads, directReadBytes, cacheReads, cacheReadBytes, readAheadChunks atomic.Int64
}

// ReadIOStats returns the counters so far.
func ReadIOStats() IOStats {
	return IOStats{
		DirectReads:     ioStats.directReads.Load(),
		DirectReadBytes: ioStats.directReadBytes.Load(),
		CacheReads:      ioStats.cacheReads.Load(),
		CacheReadBytes:  ioStats.cacheReadBytes.Load(),
		ReadAheadChunks: ioStats.readAheadChunks.Load(),
		ChunksInUse:     raChunksInUse.Load(),
	}
}
