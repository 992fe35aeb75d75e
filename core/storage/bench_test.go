package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkAppend measures the produce path: Append, plus WaitDurable with
// Fsync (several producers in parallel, sharing fsyncs through the Flusher).
// Old data is deleted as it goes so the disk does not fill up.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{16 << 10, 1 << 20} {
		for _, fsync := range []bool{false, true} {
			name := fmt.Sprintf("batch=%dKiB/fsync=%v", size>>10, fsync)
			b.Run(name, func(b *testing.B) { benchmarkAppend(b, size, fsync) })
		}
	}
}

func benchmarkAppend(b *testing.B, size int, fsync bool) {
	fl := NewFlusher(quietLogger())
	defer fl.Close()
	l, err := Open(b.TempDir(), Options{SegmentBytes: 64 << 20, Fsync: fsync}, fl, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var written atomic.Int64
	trim := func(n int64) {
		if written.Add(n)%(256<<20) < n { // every 256 MiB
			l.DeleteRecords(-1)
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	passes := fl.Passes()
	if !fsync {
		buf := sizedBatch(size, 1)
		b.ResetTimer()
		for b.Loop() {
			if _, err := l.Append(buf, 0); err != nil {
				b.Fatal(err)
			}
			trim(int64(len(buf)))
		}
	} else {
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			buf := sizedBatch(size, 1)
			ctx := context.Background()
			for pb.Next() {
				res, err := l.Append(buf, 0)
				if err == nil {
					err = l.WaitDurable(ctx, res.LastOffset)
				}
				if err != nil {
					b.Error(err)
					return
				}
				trim(int64(len(buf)))
			}
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(fl.Passes()-passes)/float64(b.N), "passes/op")
}

// BenchmarkRead measures sequential fetches of up to 1 MiB from a 64 MiB
// log of 16 KiB batches (page cache warm).
func BenchmarkRead(b *testing.B) {
	l, err := Open(b.TempDir(), Options{SegmentBytes: 16 << 20}, nil, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	buf := sizedBatch(16<<10, 1)
	for range 4096 {
		if _, err := l.Append(buf, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var off, bytes int64
	b.ResetTimer()
	for b.Loop() {
		res, err := l.Read(off, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(res.Data))
		off += int64(len(res.Data) / len(buf))
		if off >= l.HighWatermark() {
			off = 0
		}
	}
	b.SetBytes(bytes / int64(b.N))
}
