package storage

import (
	"sync/atomic"
	"time"
)

// IOStats counts the direct-I/O read path of every log in the process (see
// direct_read.go and readahead.go), for metrics.
type IOStats struct {
	DirectReads     int64 // fetch ranges read from disk with O_DIRECT
	DirectReadBytes int64 // their bytes
	CacheReads      int64 // fetch ranges answered from the read-ahead cache
	CacheReadBytes  int64 // their bytes
	TailReads       int64 // fetch ranges at the log end answered from the direct tail's memory
	TailReadBytes   int64 // their bytes
	ReadAheadChunks int64 // chunks the read-ahead has read
	DiskReadBytes   int64 // bytes both read from disk (whole blocks, so at least the bytes they answer with)
	ChunksInUse     int64 // read-ahead chunks in memory now
	TailKeptChunks  int64 // 64 KiB tail chunks kept now for readers at the log end

	// Memory of direct I/O (iomem.go): bytes of the read-buffer and tail-chunk
	// slabs in use at least once (resident since), and buffers of each kind
	// taken from the heap because its slab had none left.
	ReadBufBytes, TailBufBytes int64
	ReadBufHeap, TailBufHeap   int64
}

var ioStats struct {
	directReads, directReadBytes, cacheReads, cacheReadBytes, readAheadChunks, diskReadBytes, tailReads, tailReadBytes atomic.Int64
}

// ReadIOStats returns the counters so far.
func ReadIOStats() IOStats {
	st := IOStats{
		DirectReads:     ioStats.directReads.Load(),
		DirectReadBytes: ioStats.directReadBytes.Load(),
		CacheReads:      ioStats.cacheReads.Load(),
		CacheReadBytes:  ioStats.cacheReadBytes.Load(),
		TailReads:       ioStats.tailReads.Load(),
		TailReadBytes:   ioStats.tailReadBytes.Load(),
		ReadAheadChunks: ioStats.readAheadChunks.Load(),
		DiskReadBytes:   ioStats.diskReadBytes.Load(),
		ChunksInUse:     raChunksInUse.Load(),
		TailKeptChunks:  tailKept.Load(),
	}
	st.ReadBufBytes, st.ReadBufHeap = ioBufs.stats()
	st.TailBufBytes, st.TailBufHeap = tailBufs.stats()
	return st
}

// FlushBounds are the upper bounds, in seconds, of the buckets of the log
// flush time histogram (ReadFlushStats).
var FlushBounds = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}

// FlushStats is the histogram of log flush times in the process: how long
// each flush of one log took to make its appended data durable (index
// entries and the direct tail written, then fdatasync), the equivalent of
// Kafka's LogFlushRateAndTimeMs.
type FlushStats struct {
	Count   uint64
	Sum     time.Duration
	Buckets [len(FlushBounds)]uint64 // cumulative: flushes that took at most FlushBounds[i] seconds
}

var flushStats struct {
	buckets [len(FlushBounds) + 1]atomic.Uint64 // per bucket, the last one past every bound
	sum     atomic.Int64                        // nanoseconds
}

func observeFlush(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(FlushBounds) && s > FlushBounds[i] {
		i++
	}
	flushStats.buckets[i].Add(1)
	flushStats.sum.Add(int64(d))
}

// ReadFlushStats returns the flush time histogram so far.
func ReadFlushStats() FlushStats {
	var st FlushStats
	for i := range flushStats.buckets {
		st.Count += flushStats.buckets[i].Load()
		if i < len(st.Buckets) {
			st.Buckets[i] = st.Count
		}
	}
	st.Sum = time.Duration(flushStats.sum.Load())
	return st
}
