package bench

import (
	"strings"
	"testing"
	"time"
)

func TestProduceConfigValidation(t *testing.T) {
	ok := ProduceConfig{Brokers: []string{"127.0.0.1:9092"}, Topic: "t", Records: 10, Acks: -1}
	for _, tc := range []struct {
		name  string
		edit  func(*ProduceConfig)
		wants []string // substrings of the error; none = valid
	}{
		{"valid", func(*ProduceConfig) {}, nil},
		{"duration only", func(c *ProduceConfig) { c.Records, c.Duration = 0, time.Second }, nil},
		{"no bound", func(c *ProduceConfig) { c.Records = 0 }, []string{"Records or Duration"}},
		{"no brokers no topic", func(c *ProduceConfig) { c.Brokers, c.Topic = nil, "" }, []string{"Brokers", "Topic"}},
		{"negatives", func(c *ProduceConfig) {
			c.Partitions, c.RecordSize, c.Records, c.Duration = -1, -1, -1, -time.Second
			c.Concurrency, c.Linger, c.BatchMaxBytes, c.RateLimit = -1, -time.Millisecond, -1, -1
		}, []string{"Partitions", "RecordSize", "Records:", "Duration:", "Concurrency", "BatchMaxBytes", "RateLimit"}},
		{"acks 2", func(c *ProduceConfig) { c.Acks = 2 }, []string{"Acks: 2"}},
		{"acks -2", func(c *ProduceConfig) { c.Acks = -2 }, []string{"Acks: -2"}},
		{"bad codec", func(c *ProduceConfig) { c.Compression = "brotli" }, []string{`Compression: "brotli"`}},
		{"codec case-insensitive", func(c *ProduceConfig) { c.Compression = "ZSTD" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := c.normalize()
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one mentioning %q", tc.wants)
			}
			if !strings.HasPrefix(err.Error(), "bench: invalid produce config: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestProduceConfigDefaults(t *testing.T) {
	c, err := ProduceConfig{Brokers: []string{"b:1"}, Topic: "t", Duration: time.Second, Compression: "LZ4"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if c.Partitions != 1 || c.RecordSize != 1024 || c.Concurrency != 1 || c.Compression != "lz4" {
		t.Errorf("defaults = partitions %d, size %d, concurrency %d, codec %q; want 1, 1024, 1, lz4",
			c.Partitions, c.RecordSize, c.Concurrency, c.Compression)
	}
	if c.Acks != 0 || c.Linger != 0 || c.BatchMaxBytes != 0 || c.RateLimit != 0 {
		t.Errorf("fields without defaults changed: %+v", c)
	}
}

func TestConsumeConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     ConsumeConfig
		wants []string
	}{
		{"valid records", ConsumeConfig{Brokers: []string{"b:1"}, Topic: "t", Records: 1}, nil},
		{"valid duration", ConsumeConfig{Brokers: []string{"b:1"}, Topic: "t", Duration: time.Second}, nil},
		{"empty", ConsumeConfig{}, []string{"Brokers", "Topic", "Records or Duration"}},
		{"negative", ConsumeConfig{Brokers: []string{"b:1"}, Topic: "t", Records: -1, FetchMaxBytes: -1, IdleTimeout: -time.Second},
			[]string{"Records: -1", "FetchMaxBytes: -1", "IdleTimeout: -1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.normalize()
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "bench: invalid consume config: ") {
				t.Fatalf("error = %v, want a bench: invalid consume config error", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestResultString(t *testing.T) {
	var h Histogram
	h.Record(1200 * time.Microsecond)
	r := newResult(100000, 100000*1024, 2*time.Second, &h)
	want := "100000 records, 97.66 MiB in 2.000s: 48.83 MiB/s, 50000 records/s; latency p50 1.20ms p99 1.20ms p99.9 1.20ms"
	if got := r.String(); got != want {
		t.Errorf("String() =\n %q\nwant\n %q", got, want)
	}
	consume := newResult(10, 10240, time.Second, &Histogram{})
	if got, want := consume.String(), "10 records, 0.01 MiB in 1.000s: 0.01 MiB/s, 10 records/s"; got != want {
		t.Errorf("String() without latency = %q, want %q", got, want)
	}
	if zero := newResult(0, 0, 0, nil); zero.MiBps != 0 || zero.RecordsPerSec != 0 {
		t.Errorf("zero elapsed gave rates %v, %v; want 0", zero.MiBps, zero.RecordsPerSec)
	}
}
