package broker_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// scrapeMetrics reads the admin listener's /metrics and returns every sample by its
// name and labels as Prometheus prints them, e.g.
// `streamd_log_segments{partition="0",topic="t"}`.
func scrapeMetrics(t *testing.T, adminAddr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCleanerMetrics: every compacted partition has its log start and end offsets,
// size, segments, dirty ratio, last cleaning time and bytes reclaimed as metrics, and
// they go away with the topic; the offset maps' memory is reported, and is back to 0
// once no pass runs.
func TestCleanerMetrics(t *testing.T) {
	b := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) { c.LogRetentionCheckIntervalMs = 100 }))
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "cm", 2, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("2048"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("cm"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const n = 200
	for i := range n {
		r := &kgo.Record{Partition: 0, Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "v%d", i)}
		if err := cl.ProduceSync(ctxT(t, 10*time.Second), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p0 := func(name string) string { return name + `{partition="0",topic="cm"}` }
	p1 := func(name string) string { return name + `{partition="1",topic="cm"}` }
	var m map[string]float64
	deadline := time.Now().Add(20 * time.Second)
	for {
		m = scrapeMetrics(t, b.AdminAddr())
		if m[p0("streamd_cleaner_reclaimed_bytes_total")] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bytes reclaimed on cm/0 after 20s: %v", m[p0("streamd_cleaner_reclaimed_bytes_total")])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := m[p0("streamd_log_end_offset")]; got != n {
		t.Errorf("log end offset %v, want %d", got, n)
	}
	if got, ok := m[p0("streamd_log_start_offset")]; !ok || got != 0 {
		t.Errorf("log start offset %v (%v), want 0", got, ok)
	}
	if got := m[p0("streamd_log_segments")]; got < 2 {
		t.Errorf("segments %v, want several", got)
	}
	if got := m[p0("streamd_log_size_bytes")]; got <= 0 {
		t.Errorf("size %v", got)
	}
	if got, ok := m[p0("streamd_cleaner_dirty_ratio")]; !ok || got < 0 || got > 1 {
		t.Errorf("dirty ratio %v (%v)", got, ok)
	}
	if got := m[p0("streamd_cleaner_last_clean_timestamp_seconds")]; time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("last clean timestamp %v, want just now", got)
	}
	// The empty partition has its gauges too, and nothing cleaned.
	if got, ok := m[p1("streamd_cleaner_dirty_ratio")]; !ok || got != 0 {
		t.Errorf("partition 1 dirty ratio %v (%v), want 0", got, ok)
	}
	if _, ok := m[p1("streamd_cleaner_last_clean_timestamp_seconds")]; ok {
		t.Error("partition 1 has a last clean time but was never cleaned")
	}
	if got, ok := m["streamd_cleaner_offset_map_bytes"]; !ok || got < 0 || got > 128<<20 {
		t.Errorf("offset map bytes %v (%v), want 0 to 128 MiB", got, ok)
	}

	if _, err := adm.DeleteTopic(ctxT(t, 10*time.Second), "cm"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		m = scrapeMetrics(t, b.AdminAddr())
		var left []string
		for k := range m {
			if strings.Contains(k, `topic="cm"`) {
				left = append(left, k)
			}
		}
		if len(left) == 0 && m["streamd_cleaner_offset_map_bytes"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s, metrics of the deleted topic still there: %v; offset map bytes %v, want 0 with no pass running",
				left, m["streamd_cleaner_offset_map_bytes"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
