//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/core/bench"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestMain lets the test binary act as the broker child, as the real binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		os.Exit(runChild(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func TestExpandSystems(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"streamd,kfake,nats", variants, false},
		{"nats, KFAKE", []string{"kfake-async", "kfake-sync", "nats-async", "nats-sync"}, false},
		{"nats-sync,streamd,nats-sync", []string{"streamd", "nats-sync"}, false},
		{"kafka", nil, true},
		{" , ", nil, true},
	} {
		got, err := expandSystems(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("expandSystems(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseFlagsRejectsNonsense(t *testing.T) {
	for _, args := range [][]string{{"-duration", "0s"}, {"-record-size", "-1"}, {"-systems", "redpanda"}, {"extra"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.systems, variants) || o.recordSize != 1024 || o.partitions != 3 {
		t.Errorf("defaults = %+v; want every variant, 1 KiB records, 3 partitions", o)
	}
}

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tkfake\nVmPeak:\t  900 kB\nVmHWM:\t   41000 kB\nVmRSS:\t   22528 kB\nThreads:\t7\n"
	hwm, rss, err := parseProcStatus([]byte(status))
	if err != nil || hwm != 41000<<10 || rss != 22528<<10 {
		t.Fatalf("parseProcStatus = %d, %d, %v; want %d, %d", hwm, rss, err, 41000<<10, 22528<<10)
	}
	if _, _, err := parseProcStatus([]byte("Name:\tx\n")); err == nil {
		t.Fatal("status without VmHWM/VmRSS accepted")
	}
}

func TestLogBufferReady(t *testing.T) {
	l := newLogBuffer()
	io.WriteString(l, "starting\nlevel=INFO msg=\"listening\" rea")
	select {
	case line := <-l.ready:
		t.Fatalf("ready reported early: %q", line)
	default:
	}
	io.WriteString(l, "dy=true\nmore\n")
	select {
	case line := <-l.ready:
		if line != `level=INFO msg="listening" ready=true` {
			t.Fatalf("ready line = %q", line)
		}
	default:
		t.Fatal("ready line split across writes not reported")
	}
	io.WriteString(l, "ready again\n") // reported once only; must not block
	if !strings.HasSuffix(l.tail(20), "ready again") {
		t.Fatalf("tail = %q", l.tail(20))
	}
}

func TestReportGolden(t *testing.T) {
	res := func(recs, mibps float64, p50, p99, p999 time.Duration) bench.Result {
		return bench.Result{RecordsPerSec: recs, MiBps: mibps, P50: p50, P99: p99, P999: p999}
	}
	o, _ := parseFlags([]string{"-systems", "streamd,kfake-sync,nats-async"})
	rep := report{
		opts: o, started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), latencyRate: 50000,
		machine: "Test CPU, 2 cores, Linux 6.0, go1.26, data dir on ext4",
		disk:    diskCeiling{Seq64K: 150, Seq1M: 500, Read1M: 900, Read1MPar: 1000, Read1MHuge: 2000, ReadersPar: 3, Sync4KP50: 280 * time.Microsecond, Sync4KP99: 700 * time.Microsecond, Sync4KOps: 3000},
		results: []measurement{
			{system: "streamd", peak: res(100000, 97.7, 200*time.Millisecond, 300*time.Millisecond, 0),
				latRun:         res(50000, 48.8, time.Millisecond, 4*time.Millisecond, 9*time.Millisecond),
				latFlushes:     slowEvents{Watched: true, Count: 16000, P99Under: time.Millisecond, SlowestUnder: 5 * time.Millisecond},
				latSched:       slowEvents{Watched: true, Count: 90000, P99Under: 1048576 * time.Nanosecond, SlowestUnder: 10485760 * time.Nanosecond},
				latProduce:     slowEvents{Watched: true, Count: 9000, P99Under: 2500 * time.Microsecond, SlowestUnder: 5 * time.Millisecond},
				latClientSched: slowEvents{Watched: true, Count: 20000, P99Under: 524288 * time.Nanosecond, SlowestUnder: 2097152 * time.Nanosecond},
				read:           res(0, 400, 0, 0, 0), readDefaultGC: res(0, 300, 0, 0, 0), hwm: 64 << 20, rss: 48 << 20},
			{system: "kfake-sync", peak: res(50000, 48.8, 400*time.Millisecond, 600*time.Millisecond, 0),
				latClientSched: slowEvents{Watched: true, Count: 21000, Over: 1, P99Under: 524288 * time.Nanosecond, SlowestUnder: 12582912 * time.Nanosecond},
				latRun:         res(45000, 43.9, 100*time.Millisecond, 200*time.Millisecond, 210*time.Millisecond),
				read:           res(0, 200, 0, 0, 0), hwm: 32 << 20, rss: 24 << 20},
			{system: "nats-async", peak: res(80000, 78.1, 30*time.Millisecond, 60*time.Millisecond, 0),
				err: errors.New("latency run: boom\n  (broker log: x)")},
		},
	}
	rep.rounds = []measurement{
		{system: "streamd", round: 1, peak: res(100000, 97.7, 0, 0, 0), read: res(0, 400, 0, 0, 0), readDefaultGC: res(0, 310, 0, 0, 0),
			latRun: res(50000, 48.8, time.Millisecond, 4*time.Millisecond, 0), hwm: 64 << 20,
			latFlushes: slowEvents{Watched: true, Count: 16000, P99Under: time.Millisecond, SlowestUnder: 5 * time.Millisecond},
			latSched:   slowEvents{Watched: true, Count: 90000, P99Under: 1048576 * time.Nanosecond, SlowestUnder: 10485760 * time.Nanosecond}},
		{system: "streamd", round: 2, peak: res(90000, 87.9, 0, 0, 0), read: res(0, 380, 0, 0, 0), readDefaultGC: res(0, 320, 0, 0, 0),
			latRun: res(50000, 48.8, time.Millisecond, 11*time.Millisecond, 0), hwm: 60 << 20,
			latFlushes: slowEvents{Watched: true, Count: 15800, Over: 6, P99Under: time.Millisecond, SlowestUnder: 50 * time.Millisecond},
			latSched:   slowEvents{Watched: true, Count: 91000, Over: 2, P99Under: 1048576 * time.Nanosecond, SlowestUnder: 117440512 * time.Nanosecond},
			latProduce: slowEvents{Watched: true, Count: 9100, Over: 3, P99Under: 2500 * time.Microsecond, SlowestUnder: 25 * time.Millisecond}},
		{system: "nats-async", round: 1, err: errors.New("latency run: a|b")},
	}
	var b bytes.Buffer
	if err := rep.write(&b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("report differs from %s (run with -update to accept):\n%s", golden, b.String())
	}
}

// TestBestOf: each metric comes from the best round without an error, memory
// from the highest round; a system whose rounds all failed reports the last.
func TestBestOf(t *testing.T) {
	res := func(mibps float64, p99 time.Duration) bench.Result { return bench.Result{MiBps: mibps, P99: p99} }
	rounds := []measurement{
		{system: "s", round: 1, peak: res(100, 50*time.Millisecond), read: res(300, 0), readDefaultGC: res(200, 0), latRun: res(40, 12*time.Millisecond), hwm: 10, rss: 5,
			latFlushes: slowEvents{Watched: true, Count: 100, Over: 3}},
		{system: "s", round: 2, peak: res(120, 60*time.Millisecond), read: res(250, 0), readDefaultGC: res(260, 0), latRun: res(40, 9*time.Millisecond), hwm: 30, rss: 4,
			latFlushes: slowEvents{Watched: true, Count: 90}},
		{system: "s", round: 3, peak: res(500, 0), read: res(900, 0), latRun: res(40, time.Millisecond), hwm: 90, err: errors.New("failed")},
	}
	b := bestOf(rounds)
	if b.peak.MiBps != 120 || b.peak.P99 != 60*time.Millisecond || b.read.MiBps != 300 || b.readDefaultGC.MiBps != 260 || b.latRun.P99 != 9*time.Millisecond ||
		b.latFlushes.Count != 90 || b.hwm != 30 || b.rss != 5 || b.err != nil || b.round != 0 {
		t.Errorf("bestOf = %+v; want peak 120 (its p99 60ms), read 300 (260 at GOGC=100), latency p99 9ms (its 90 flushes), hwm 30, rss 5, no error", b)
	}
	failed := []measurement{{system: "s", round: 1, err: errors.New("a")}, {system: "s", round: 2, err: errors.New("b")}}
	if b := bestOf(failed); b.err == nil || b.err.Error() != "b" {
		t.Errorf("bestOf(all failed) = %+v; want the last round's error", b)
	}
}

// TestMeasureSystemChildren runs the whole per-system sequence against real
// child processes (this test binary re-executed as kfake and nats-server).
func TestMeasureSystemChildren(t *testing.T) {
	if testing.Short() {
		t.Skip("starts broker processes")
	}
	o := options{
		duration: 300 * time.Millisecond, latencyDur: 200 * time.Millisecond, latencyWarm: 200 * time.Millisecond, recordSize: 256,
		partitions: 2, concurrency: 1, repo: filepath.Join("..", ".."), clientGOGC: 400,
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range []string{"streamd", "kfake-sync", "nats-async"} {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			rate := 2000.0
			m := measureSystem(ctx, log, o, name, base, &rate, nil)
			if m.err != nil {
				t.Fatal(m.err)
			}
			if m.peak.Records == 0 || m.read.Records != m.peak.Records || m.readDefaultGC.Records != m.peak.Records || m.latRun.P99 == 0 {
				t.Errorf("peak %v, read %v and %v, latency %v: want records read back twice and latencies", m.peak, m.read, m.readDefaultGC, m.latRun)
			}
			if m.latRun.RecordsPerSec > 2400 {
				t.Errorf("latency run at %.0f records/s, want the 2000/s limit", m.latRun.RecordsPerSec)
			}
			// streamd syncs before acking, so its latency run flushed its
			// logs, and peerbench read that from its metrics.
			if f := m.latFlushes; f.Watched != (name == "streamd") || (f.Watched && (f.Count == 0 || f.SlowestUnder == 0)) {
				t.Errorf("log flushes in the latency run: %+v", f)
			}
			if s := m.latSched; s.Watched != (name == "streamd") || (s.Watched && s.Count == 0) {
				t.Errorf("goroutine waits for a CPU in the latency run: %+v", s)
			}
			if p := m.latProduce; p.Watched != (name == "streamd") || (p.Watched && p.Count == 0) {
				t.Errorf("Produce requests in the latency run: %+v", p)
			}
			if c := m.latClientSched; !c.Watched || c.Count == 0 {
				t.Errorf("the load generator's goroutine waits in the latency run: %+v", c)
			}
			if m.hwm < m.rss || m.rss < 1<<20 {
				t.Errorf("RSS peak %d, now %d: implausible", m.hwm, m.rss)
			}
			if entries, _ := os.ReadDir(base); len(entries) != 0 {
				t.Errorf("data dir not removed: %v", entries)
			}
		})
	}
}
