//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/streamd/streamd/core/bench"
)

// diskCeiling is what the data directory's disk can do with durable writes:
// the upper bound for any broker that syncs before acknowledging.
type diskCeiling struct {
	Seq64K, Seq1M float64       // MiB/s appending chunks with fdatasync after each
	Sync4KP50     time.Duration // latency of one 4 KiB append + fsync
	Sync4KP99     time.Duration
	Sync4KOps     int64
}

// measureDisk appends 64 KiB then 1 MiB chunks to a fresh file with an
// fdatasync after every chunk, each for duration d, then times 4 KiB
// appends each followed by fsync for d. The files are removed.
func measureDisk(ctx context.Context, dir string, d time.Duration) (diskCeiling, error) {
	var c diskCeiling
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
	var h *bench.Histogram
	if _, h, err = syncedAppends(ctx, filepath.Join(dir, "4k"), 4<<10, d, true); err != nil {
		return c, err
	}
	c.Sync4KP50, c.Sync4KP99, c.Sync4KOps = h.Quantile(0.5), h.Quantile(0.99), h.Count()
	return c, nil
}

// syncedAppends appends chunk-sized writes to path, syncing after each, for
// duration d (at least one write). fullSync uses fsync, else fdatasync. It
// returns MiB/s and the histogram of write+sync latencies.
func syncedAppends(ctx context.Context, path string, chunk int, d time.Duration, fullSync bool) (float64, *bench.Histogram, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, nil, err
	}
	defer os.Remove(path)
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
