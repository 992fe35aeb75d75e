package broker_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// topicStats is the JSON of GET /v1/topics/{name}, as a client decodes it.
type topicStats struct {
	Topic      string `json:"topic"`
	Compacted  bool   `json:"compacted"`
	Partitions []struct {
		Partition      int32    `json:"partition"`
		LogStartOffset int64    `json:"log_start_offset"`
		LogEndOffset   int64    `json:"log_end_offset"`
		HighWatermark  int64    `json:"high_watermark"`
		SizeBytes      int64    `json:"size_bytes"`
		Segments       int      `json:"segments"`
		DirtyRatio     *float64 `json:"dirty_ratio"`
		LastCleaned    *string  `json:"last_cleaned"`
		BytesReclaimed int64    `json:"bytes_reclaimed"`
	} `json:"partitions"`
}

func getTopicStats(t *testing.T, admin, topic string) (int, topicStats, string) {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/v1/topics/" + topic)
	if err != nil {
		t.Fatalf("GET topic stats: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var ts topicStats
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &ts); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
	return resp.StatusCode, ts, string(body)
}

func TestAdminTopicStats(t *testing.T) {
	b := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) { c.LogRetentionCheckIntervalMs = 100 }))
	adm := newAdmin(t, b.Addr())
	cl := newClient(t, b.Addr())
	createTopic(t, adm, "plain", 2, nil)
	createTopic(t, adm, "cmp", 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("2048"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})

	if code, _, body := getTopicStats(t, b.AdminAddr(), "nope"); code != http.StatusNotFound {
		t.Fatalf("unknown topic: status %d (%s), want 404", code, body)
	}

	if err := cl.ProduceSync(ctxT(t, 10*time.Second), &kgo.Record{Topic: "plain", Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	code, plain, body := getTopicStats(t, b.AdminAddr(), "plain")
	if code != http.StatusOK || plain.Topic != "plain" || plain.Compacted || len(plain.Partitions) != 2 {
		t.Fatalf("plain topic: status %d body %s", code, body)
	}
	var ends, sizes int64
	for i, p := range plain.Partitions {
		if p.Partition != int32(i) || p.Segments != 1 || p.DirtyRatio != nil || p.LastCleaned != nil || p.BytesReclaimed != 0 {
			t.Errorf("plain partition %d: %+v", i, p)
		}
		ends += p.LogEndOffset
		sizes += p.SizeBytes
	}
	if ends != 1 || sizes == 0 {
		t.Errorf("plain topic: end offsets sum %d, sizes %d; want 1 record on disk: %s", ends, sizes, body)
	}

	const keys, rounds = 5, 40
	for r := range rounds {
		for k := range keys {
			rec := &kgo.Record{Topic: "cmp", Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "v%d-%d", k, r)}
			if err := cl.ProduceSync(ctxT(t, 10*time.Second), rec).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, cmp, body := getTopicStats(t, b.AdminAddr(), "cmp")
		if code != http.StatusOK || !cmp.Compacted || len(cmp.Partitions) != 1 {
			t.Fatalf("compacted topic: status %d body %s", code, body)
		}
		p := cmp.Partitions[0]
		if p.LastCleaned != nil && p.BytesReclaimed > 0 {
			if _, err := time.Parse(time.RFC3339, *p.LastCleaned); err != nil {
				t.Errorf("last_cleaned %q: %v", *p.LastCleaned, err)
			}
			if p.Segments < 2 || p.LogEndOffset != keys*rounds || p.HighWatermark != keys*rounds || p.SizeBytes <= 0 {
				t.Errorf("after cleaning: %s", body)
			}
			if p.DirtyRatio == nil || *p.DirtyRatio < 0 || *p.DirtyRatio >= 1 {
				t.Errorf("after cleaning, dirty_ratio should be a number in [0,1): %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not cleaned after 15s: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
