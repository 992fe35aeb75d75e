package broker_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/storage"
)

// TestLogFlushMetrics: acks=all produces are answered after their log is
// flushed, so the flush time histogram counts those flushes, with a positive
// total time and cumulative buckets that end at the count.
func TestLogFlushMetrics(t *testing.T) {
	b := brokertest.StartBroker(t)
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "fm", 1, nil)
	before := scrapeMetrics(t, b.AdminAddr())
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("fm"), kgo.RequiredAcks(kgo.AllISRAcks()))
	const n = 5
	for i := range n {
		if err := cl.ProduceSync(ctxT(t, 10*time.Second), &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	after := scrapeMetrics(t, b.AdminAddr())
	const name = "streamd_log_flush_duration_seconds"
	count := after[name+"_count"]
	if d := count - before[name+"_count"]; d < n {
		t.Errorf("%s_count grew by %v over %d synchronous acks=all produces; want at least %d", name, d, n, n)
	}
	if d := after[name+"_sum"] - before[name+"_sum"]; d <= 0 {
		t.Errorf("%s_sum grew by %v; want a positive time", name, d)
	}
	prev := 0.0
	for _, le := range storage.FlushBounds {
		key := fmt.Sprintf(`%s_bucket{le="%s"}`, name, strconv.FormatFloat(le, 'g', -1, 64))
		v, ok := after[key]
		if !ok {
			t.Fatalf("no sample %s", key)
		}
		if v < prev {
			t.Errorf("%s = %v is below the previous bucket's %v", key, v, prev)
		}
		prev = v
	}
	if inf := after[name+`_bucket{le="+Inf"}`]; inf != count || prev > count {
		t.Errorf(`le="+Inf" bucket %v, last bound %v, count %v; want +Inf = count >= every bucket`, inf, prev, count)
	}
}
