package main

import (
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/streamd/streamd/core/broker/brokertest"
)

func TestBenchProduceThenConsume(t *testing.T) {
	b := "--brokers=" + brokertest.Start(t)
	r := ok(t, "", b, "bench", "produce", "--topic", "perf", "--records", "3000", "--record-size", "100", "--partitions", "2")
	if !strings.HasPrefix(r.stdout, "3000 records, ") || !strings.Contains(r.stdout, "MiB/s") || !strings.Contains(r.stdout, "p99.9") {
		t.Fatalf("bench produce printed %q, want a result line for 3000 records with latency", r.stdout)
	}
	parts := table(t, ok(t, "", b, "topic", "describe", "perf").stdout, "PARTITION")
	if len(parts) != 2 {
		t.Fatalf("bench created %d partitions, want 2", len(parts))
	}
	// A warm-up at the same rate is produced but not counted: 300 more
	// records measured, and the topic holds the warm-up's too.
	r = ok(t, "", b, "bench", "produce", "--topic", "perf", "--records", "300", "--record-size", "100",
		"--rate", "2000", "--warmup", "250ms", "--linger", "1ms")
	if !strings.HasPrefix(r.stdout, "300 records, ") {
		t.Fatalf("bench produce --warmup printed %q, want a result line for the 300 measured records", r.stdout)
	}
	r = ok(t, "", b, "bench", "consume", "--topic", "perf", "--records", "100000", "--duration", "3s")
	var n int
	if _, err := fmt.Sscanf(r.stdout, "%d records", &n); err != nil || n < 3400 {
		t.Fatalf("bench consume printed %q, want all records: 3000 + 300 measured + at least 100 of warm-up", r.stdout)
	}
	fails(t, "Warmup: -1s is negative", "", b, "bench", "produce", "--warmup", "-1s", "--records", "10")
	// Nothing to read: a clear error after the idle timeout, not a wait forever.
	fails(t, `topic "missing" does not exist`, "", b, "bench", "consume", "--topic", "missing", "--idle-timeout", "500ms")
	fails(t, fmt.Sprintf("no record for 500ms after reading %d of 100000", n), "", b, "bench", "consume", "--topic", "perf", "--records", "100000", "--idle-timeout", "500ms")
}

// gcPercent returns the process's current GOGC.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// The bench sets its own GOGC for the run (400, or --gogc; a GOGC
// environment variable wins over the default only) and restores it after.
func TestBenchGOGC(t *testing.T) {
	before := gcPercent()
	for _, tc := range []struct {
		env  string
		args []string
		want int
	}{
		{"", nil, defaultBenchGOGC},
		{"", []string{"--gogc", "250"}, 250},
		{"150", nil, before}, // the environment's GOGC already applies
		{"150", []string{"--gogc", "300"}, 300},
	} {
		t.Run(fmt.Sprintf("env=%q,%v", tc.env, tc.args), func(t *testing.T) {
			t.Setenv("GOGC", tc.env)
			cmd := newBenchCmd(&globals{})
			consume, _, err := cmd.Find([]string{"consume"})
			if err != nil {
				t.Fatal(err)
			}
			if err := consume.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			restore, err := setBenchGOGC(consume)
			if err != nil {
				t.Fatal(err)
			}
			if got := gcPercent(); got != tc.want {
				t.Errorf("GOGC during the run = %d, want %d", got, tc.want)
			}
			restore()
			if got := gcPercent(); got != before {
				t.Errorf("GOGC after the run = %d, want %d restored", got, before)
			}
		})
	}
	b := "--brokers=" + brokertest.Start(t)
	fails(t, "--gogc 0: must be positive", "", b, "bench", "consume", "--gogc", "0")
}
