package bench

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMeterProgressAndResult(t *testing.T) {
	old := progressInterval
	progressInterval = 10 * time.Millisecond
	t.Cleanup(func() { progressInterval = old })

	var out syncBuffer
	m := StartMeter("produce", &out)
	for range 100 {
		m.Record(1024, 2*time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "100 records") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r := m.Stop()
	line := out.String()
	if !strings.HasPrefix(line, "produce ") || !strings.Contains(line, "100 records") || !strings.Contains(line, "p99 2.0") {
		t.Errorf("progress output %q lacks label, record count or p99", line)
	}
	if r.Records != 100 || r.Bytes != 100*1024 || r.P99 < 1968*time.Microsecond || r.P99 > 2032*time.Microsecond {
		t.Errorf("result = %+v, want 100 records, 102400 bytes, p99 ≈ 2ms", r)
	}
	if again := m.Stop(); again != r {
		t.Errorf("second Stop = %+v, want the same result %+v", again, r)
	}
	// Nothing is written after Stop.
	n := len(out.String())
	time.Sleep(30 * time.Millisecond)
	if len(out.String()) != n {
		t.Error("progress written after Stop")
	}
}

func TestPacerHoldsRate(t *testing.T) {
	p := NewPacer(2000) // 0.5ms apart: 200 calls ≈ 100ms
	start := time.Now()
	for range 200 {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 95*time.Millisecond || el > 2*time.Second {
		t.Errorf("200 calls at 2000/s took %v, want about 100ms", el)
	}
}

func TestPacerUnlimitedAndCanceled(t *testing.T) {
	start := time.Now()
	p := NewPacer(0)
	for range 100000 {
		_ = p.Wait(context.Background())
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("unlimited pacer took %v for 100000 calls", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := NewPacer(0.5) // second call due in 2s
	_ = slow.Wait(ctx)
	start = time.Now()
	if err := slow.Wait(ctx); err == nil || time.Since(start) > time.Second {
		t.Errorf("Wait on a canceled context returned %v after %v, want the context error at once", err, time.Since(start))
	}
}
