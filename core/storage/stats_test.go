package storage

import (
	"errors"
	"fmt"
	"testing"

	"github.com/streamd/streamd/core/batch"
)

func TestDirtyRatio(t *testing.T) {
	l, err := Open(t.TempDir(), Options{SegmentBytes: 1024}, nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	appendKeyed := func(n int) {
		t.Helper()
		for i := range n {
			recs := []batch.Record{{Key: fmt.Appendf(nil, "k%d", i%4), Value: make([]byte, 100)}}
			if _, err := l.Append(batch.Build(batch.BuildOptions{ProducerID: -1}, recs, 1), 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	ratio := func() float64 {
		t.Helper()
		d, err := l.DirtyRatio()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := ratio(); d != 0 {
		t.Fatalf("empty log: dirty ratio %v, want 0", d)
	}
	appendKeyed(40)
	if d := ratio(); d != 1 {
		t.Fatalf("never cleaned: dirty ratio %v, want 1", d)
	}
	if res, err := l.Compact(CompactOptions{}); err != nil || !res.Cleaned || res.DirtyRatio != 1 {
		t.Fatalf("compact: %+v, %v", res, err)
	}
	if d := ratio(); d != 0 {
		t.Fatalf("just cleaned: dirty ratio %v, want 0", d)
	}
	appendKeyed(40)
	d := ratio()
	if d <= 0 || d >= 1 {
		t.Fatalf("after new appends: dirty ratio %v, want in (0,1)", d)
	}
	if res, err := l.Compact(CompactOptions{}); err != nil || res.DirtyRatio != d {
		t.Fatalf("compact saw dirty ratio %v (%v), DirtyRatio said %v", res.DirtyRatio, err, d)
	}
	l.Close()
	if _, err := l.DirtyRatio(); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed log: %v, want ErrClosed", err)
	}
}
