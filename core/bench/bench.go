// Package bench is a Kafka client workload library: it produces and consumes
// fixed-size records with franz-go (kgo) against any Kafka-wire broker and
// reports throughput and latency. `streamd bench` and tools/peerbench use it.
//
// # What is measured
//
// Produce: every record is timed from the moment Produce is called for it to
// the moment its promise (ack callback) runs, so the latency includes time
// spent waiting for buffer space in the client, lingering, the request round
// trip and the broker's durability work (fsync with acks=all on streamd).
// Without a RateLimit the producer runs flat out and the client buffer
// (kgo's default 50,000 records) is always full, so latency at saturation is
// mostly queueing; run with RateLimit set to about half the peak throughput
// to see the latency of an unsaturated broker, and with a Warmup: a new
// client's first few hundred milliseconds (metadata, producer id, buffers
// growing in client and broker) are slower than the steady state and, at
// hundreds of thousands of records per second, are enough records to move
// a p99 by themselves.
//
// Consume: records are counted as PollFetches returns them, starting from the
// earliest offset of every partition. No latency is recorded for consumption.
//
// Result.Bytes counts record keys and values only (not headers, batch or
// protocol overhead); MiB/s is Bytes / 2^20 / Elapsed.
//
// # Latency histogram
//
// Latencies go into a [Histogram]: a fixed array of log-linear buckets over
// nanoseconds. Values below 64 ns are exact; above that each power of two is
// split into 32 equal buckets, so a reported percentile is within 1/64
// (about 1.6 %) of a value that was really recorded. Recording is one atomic
// add, safe from any goroutine, with no allocation.
//
// # Errors
//
// Every error this package returns starts with "bench: ". Produce returns the
// first error any record failed with (the run stops at that point) together
// with the Result measured so far.
package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ProduceConfig describes a produce run. The zero value of an optional field
// selects the default documented on it.
type ProduceConfig struct {
	// Brokers are the seed addresses (host:port). Required.
	Brokers []string
	// Topic is produced to; it is created with Partitions partitions and
	// replication factor 1 if it does not exist. Required.
	Topic string
	// Partitions for a created topic; 0 means 1. An existing topic is used as
	// it is.
	Partitions int32
	// RecordSize is the value size in bytes; 0 means 1024. Records have no key.
	RecordSize int
	// Records and Duration bound the run: it stops at whichever is reached
	// first. At least one must be set.
	Records  int64
	Duration time.Duration
	// Acks is -1 (all in-sync replicas), 0 or 1. The zero value means acks=0:
	// set -1 for durable produces. Idempotent writes stay on (kgo's default)
	// for acks=-1 and are disabled for 0 and 1, which kgo requires.
	Acks int
	// Compression is one of "", "none", "gzip", "snappy", "lz4", "zstd";
	// "" means none.
	Compression string
	// Concurrency is the number of independent producer clients, each with its
	// own connection and producer id, sharing the record budget and the rate
	// limit; 0 means 1.
	Concurrency int
	// Linger is kgo's ProducerLinger; 0 keeps kgo's default (10ms), negative means no
	// linger (a batch is sent as soon as the connection is free).
	Linger time.Duration
	// BatchMaxBytes is kgo's ProducerBatchMaxBytes; 0 keeps kgo's default
	// (1,000,012 bytes).
	BatchMaxBytes int32
	// Progress receives one line per second (records so far, MiB/s over the
	// last second, p99 so far); nil means silent.
	Progress io.Writer
	// RateLimit caps the produce rate in records per second over all
	// clients; 0 means unlimited.
	RateLimit float64
	// Warmup runs the same load with the same clients for this long before
	// the measured run: what is issued during it is produced but not
	// counted (in Records, throughput or latency), so connection set-up and
	// the first buffer allocations of client and broker do not show in the
	// result. 0 means none.
	Warmup time.Duration
}

// ConsumeConfig describes a consume run.
type ConsumeConfig struct {
	// Brokers are the seed addresses (host:port). Required.
	Brokers []string
	// Topic is read from the start of every partition. Required.
	Topic string
	// Records and Duration bound the run: it stops at whichever is reached
	// first. At least one must be set. Reaching Duration is not an error.
	Records  int64
	Duration time.Duration
	// FetchMaxBytes is kgo's FetchMaxBytes; 0 keeps kgo's default (50 MiB).
	FetchMaxBytes int32
	// IdleTimeout ends the run when no record arrives for this long
	// (kafka-consumer-perf-test's --timeout): with an error when the topic
	// does not exist or Records were not all read, else like reaching
	// Duration. 0 waits as long as Duration allows.
	IdleTimeout time.Duration
	// Progress receives one line per second; nil means silent.
	Progress io.Writer
}

// Result is what a run measured. Latency percentiles are zero when no
// latency was recorded (consume runs).
type Result struct {
	Records, Bytes int64
	Elapsed        time.Duration
	MiBps          float64
	RecordsPerSec  float64
	P50, P99, P999 time.Duration
}

const mib = 1 << 20

// newResult derives the rates and percentiles from raw counts.
func newResult(records, bytes int64, elapsed time.Duration, lat *Histogram) Result {
	r := Result{Records: records, Bytes: bytes, Elapsed: elapsed}
	if s := elapsed.Seconds(); s > 0 {
		r.MiBps = float64(bytes) / mib / s
		r.RecordsPerSec = float64(records) / s
	}
	if lat != nil && lat.Count() > 0 {
		r.P50 = lat.Quantile(0.50)
		r.P99 = lat.Quantile(0.99)
		r.P999 = lat.Quantile(0.999)
	}
	return r
}

// String renders the result on one line, e.g.
// "100000 records, 97.66 MiB in 2.000s: 48.83 MiB/s, 50000 records/s; latency p50 1.20ms p99 3.40ms p99.9 5.60ms".
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d records, %.2f MiB in %.3fs: %.2f MiB/s, %.0f records/s",
		r.Records, float64(r.Bytes)/mib, r.Elapsed.Seconds(), r.MiBps, r.RecordsPerSec)
	if r.P50 > 0 || r.P99 > 0 || r.P999 > 0 {
		fmt.Fprintf(&b, "; latency p50 %s p99 %s p99.9 %s",
			FormatLatency(r.P50), FormatLatency(r.P99), FormatLatency(r.P999))
	}
	return b.String()
}

// FormatLatency renders d in milliseconds with two decimals ("0.45ms").
func FormatLatency(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// compressions are the accepted ProduceConfig.Compression values.
var compressions = map[string]bool{"": true, "none": true, "gzip": true, "snappy": true, "lz4": true, "zstd": true}

// normalize validates c and fills in defaults, collecting every problem.
func (c ProduceConfig) normalize() (ProduceConfig, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if len(c.Brokers) == 0 {
		bad("Brokers: at least one seed broker is required")
	}
	if c.Topic == "" {
		bad("Topic: required")
	}
	switch {
	case c.Partitions < 0:
		bad("Partitions: %d is negative", c.Partitions)
	case c.Partitions == 0:
		c.Partitions = 1
	}
	switch {
	case c.RecordSize < 0:
		bad("RecordSize: %d is negative", c.RecordSize)
	case c.RecordSize == 0:
		c.RecordSize = 1024
	}
	errs = append(errs, checkBounds(c.Records, c.Duration)...)
	if c.Acks < -1 || c.Acks > 1 {
		bad("Acks: %d is not -1, 0 or 1", c.Acks)
	}
	c.Compression = strings.ToLower(c.Compression)
	if !compressions[c.Compression] {
		bad("Compression: %q is not one of none, gzip, snappy, lz4, zstd", c.Compression)
	}
	switch {
	case c.Concurrency < 0:
		bad("Concurrency: %d is negative", c.Concurrency)
	case c.Concurrency == 0:
		c.Concurrency = 1
	}
	if c.BatchMaxBytes < 0 {
		bad("BatchMaxBytes: %d is negative", c.BatchMaxBytes)
	}
	if c.RateLimit < 0 {
		bad("RateLimit: %g is negative", c.RateLimit)
	}
	if c.Warmup < 0 {
		bad("Warmup: %v is negative", c.Warmup)
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("bench: invalid produce config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// normalize validates c, collecting every problem.
func (c ConsumeConfig) normalize() (ConsumeConfig, error) {
	var errs []string
	if len(c.Brokers) == 0 {
		errs = append(errs, "Brokers: at least one seed broker is required")
	}
	if c.Topic == "" {
		errs = append(errs, "Topic: required")
	}
	errs = append(errs, checkBounds(c.Records, c.Duration)...)
	if c.FetchMaxBytes < 0 {
		errs = append(errs, fmt.Sprintf("FetchMaxBytes: %d is negative", c.FetchMaxBytes))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Sprintf("IdleTimeout: %s is negative", c.IdleTimeout))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("bench: invalid consume config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

func checkBounds(records int64, d time.Duration) []string {
	var errs []string
	if records < 0 {
		errs = append(errs, fmt.Sprintf("Records: %d is negative", records))
	}
	if d < 0 {
		errs = append(errs, fmt.Sprintf("Duration: %s is negative", d))
	}
	if records == 0 && d == 0 {
		errs = append(errs, "Records or Duration: one must be set to bound the run")
	}
	return errs
}
