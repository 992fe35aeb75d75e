package main

import (
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
	r = ok(t, "", b, "bench", "consume", "--topic", "perf", "--records", "3000")
	if !strings.HasPrefix(r.stdout, "3000 records, ") {
		t.Fatalf("bench consume printed %q, want a result line for 3000 records", r.stdout)
	}
}
