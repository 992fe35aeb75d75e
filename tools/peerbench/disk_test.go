//go:build linux

package main

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestMeasureDisk(t *testing.T) {
	dir := t.TempDir()
	c, err := measureDisk(context.Background(), dir, 50*time.Millisecond, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", c)
	if c.Seq64K <= 0 || c.Seq1M <= 0 || c.Read1M <= 0 || c.Read1MPar <= 0 || c.Read1MHuge <= 0 || c.ReadersPar != 3 || c.Sync4KOps < 1 || c.Sync4KP50 <= 0 || c.Sync4KP99 < c.Sync4KP50 {
		t.Fatalf("implausible ceiling %+v", c)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("measureDisk left %d entries behind", len(entries))
	}
}

func TestMeasureDiskCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := measureDisk(ctx, t.TempDir(), time.Minute, 3); err == nil {
		t.Fatal("measureDisk on a canceled context returned no error")
	}
}
