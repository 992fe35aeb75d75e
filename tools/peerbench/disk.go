//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/streamd/streamd/core/bench"
)

// diskCeiling is what the data directory's disk can do with durable writes:
// the upper bound for any broker that syncs before acknowledging.
type diskCeiling struct {
	Seq64K, Seq1M float64 // MiB/s appending chunks with fdatasync after each
	Read1M        float64 // MiB/s reading the 1 MiB file back with O_DIRECT
	Read1MPar     float64 // the same, with ReadersPar readers at once
	Read1MHuge    float64 // the same, each reader's buffer in a transparent huge page
	ReadersPar    int
	Sync4KP50     time.Duration // latency of one 4 KiB append + fsync
	Sync4KP99     time.Duration
	Sync4KOps     int64
}

// measureDisk appends 64 KiB then 1 MiB chunks to a fresh file with an
// fdatasync after every chunk, each for duration d, reads the 1 MiB file back
// with O_DIRECT (from the disk, not the page cache; at most for d), once with
// one reader, once with readers of its parts at once (as a broker reads
// partitions for one consumer) and once more with their buffers in huge pages
// (as streamd reads: on a virtio disk the host's cost follows the number of
// memory segments a request names, 256 for a 1 MiB heap buffer, 1 in a huge
// page), then times 4 KiB appends each followed by fsync for d. The files are
// removed.
func measureDisk(ctx context.Context, dir string, d time.Duration, readers int) (diskCeiling, error) {
	c := diskCeiling{ReadersPar: max(readers, 1)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c, err
	}
	defer os.RemoveAll(dir)
	var err error
	if c.Seq64K, _, err = syncedAppends(ctx, filepath.Join(dir, "64k"), 64<<10, d, false); err != nil {
		return c, err
	}
	if c.Seq1M, _, err = syncedAppends(ctx, filepath.Join(dir, "1m"), 1<<20, d, false); err != nil {
		return c, err
	}
	if c.Read1M, err = directReads(ctx, filepath.Join(dir, "1m"), 1<<20, 1, d, false); err != nil {
		return c, err
	}
	if c.Read1MPar, err = directReads(ctx, filepath.Join(dir, "1m"), 1<<20, c.ReadersPar, d, false); err != nil {
		return c, err
	}
	if c.Read1MHuge, err = directReads(ctx, filepath.Join(dir, "1m"), 1<<20, c.ReadersPar, d, true); err != nil {
		return c, err
	}
	var h *bench.Histogram
	if _, h, err = syncedAppends(ctx, filepath.Join(dir, "4k"), 4<<10, d, true); err != nil {
		return c, err
	}
	c.Sync4KP50, c.Sync4KP99, c.Sync4KOps = h.Quantile(0.5), h.Quantile(0.99), h.Count()
	return c, nil
}

// syncedAppends appends chunk-sized writes to path, syncing after each, for
// duration d (at least one write). fullSync uses fsync, else fdatasync. It
// returns MiB/s and the histogram of write+sync latencies. The file stays
// (measureDisk removes the directory).
func syncedAppends(ctx context.Context, path string, chunk int, d time.Duration, fullSync bool) (float64, *bench.Histogram, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	buf := bench.Payload(chunk)
	var h bench.Histogram
	var written int64
	start := time.Now()
	for written == 0 || time.Since(start) < d {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, nil, err
		}
		if fullSync {
			err = f.Sync()
		} else {
			err = syscall.Fdatasync(int(f.Fd()))
		}
		if err != nil {
			return 0, nil, fmt.Errorf("sync %s: %w", path, err)
		}
		h.Record(time.Since(t))
		written += int64(chunk)
	}
	return float64(written) / (1 << 20) / time.Since(start).Seconds(), &h, nil
}

// directReads reads path in chunk-sized O_DIRECT reads with readers
// goroutines, each reading its part (the file cut in readers pieces at chunk
// boundaries) from its start, until the parts end or for duration d, whichever
// comes first, and returns MiB/s for all together. chunk must be a multiple of
// 4096 and, with huge, at most hugePage.
func directReads(ctx context.Context, path string, chunk, readers int, d time.Duration, huge bool) (float64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s with O_DIRECT: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	chunks := (st.Size() + int64(chunk) - 1) / int64(chunk)
	per := max((chunks+int64(readers)-1)/int64(readers), 1) * int64(chunk)
	read := make([]int64, readers)
	errs := make([]error, readers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range readers {
		wg.Go(func() {
			buf, free := readBuf(chunk, huge)
			defer free()
			read[i], errs[i] = readPart(ctx, f, int64(i)*per, min(int64(i+1)*per, st.Size()), buf, start.Add(d))
		})
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	var total int64
	for _, n := range read {
		total += n
	}
	return float64(total) / (1 << 20) / el, nil
}

const hugePage = 2 << 20

// readBuf returns a 4096-aligned buffer of n bytes for O_DIRECT reads: from
// the heap, or (huge) alone in a hugePage-aligned mapping advised to use a
// transparent huge page (ordinary pages where the kernel has none), with the
// function that unmaps it.
func readBuf(n int, huge bool) ([]byte, func()) {
	if huge {
		mem, err := syscall.Mmap(-1, 0, 2*hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err == nil {
			off := int(-uintptr(unsafe.Pointer(&mem[0])) & (hugePage - 1))
			_ = syscall.Madvise(mem[off:off+hugePage], syscall.MADV_HUGEPAGE)
			return mem[off : off+n : off+n], func() { _ = syscall.Munmap(mem) }
		}
	}
	raw := make([]byte, n+4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(&raw[0]))%4096)) % 4096
	return raw[skip : skip+n], func() {}
}

// readPart reads [from, to) of f in O_DIRECT reads of len(buf) until to or
// the deadline (at least one read), and returns the bytes read.
func readPart(ctx context.Context, f *os.File, from, to int64, buf []byte, deadline time.Time) (int64, error) {
	chunk := len(buf)
	var read int64
	for p := from; p < to && (read == 0 || time.Now().Before(deadline)); {
		if err := ctx.Err(); err != nil {
			return read, err
		}
		n, err := f.ReadAt(buf, p)
		read, p = read+int64(n), p+int64(n)
		if errors.Is(err, io.EOF) || (err == nil && n < chunk) {
			break
		}
		if err != nil {
			return read, err
		}
	}
	return read, nil
}

// describeMachine is one line about the hardware the numbers came from.
func describeMachine(dataDir string) string {
	cpu := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d cores, %s, %s, data dir on %s", cpu, runtime.NumCPU(), kernel, runtime.Version(), fsType(dataDir))
}

// fsType names the filesystem holding dir (a tmpfs makes fsync free and the
// durable numbers meaningless).
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown filesystem"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs (fsync is free: durable numbers are meaningless)"
	case 0x794c7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	}
	return fmt.Sprintf("filesystem 0x%x", uint64(st.Type))
}
