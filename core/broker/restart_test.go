package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
)

// TestRestartKeepsTopicsAndData: topics, configs, ids and records survive a clean
// restart on the same data dir; a torn tail written after shutdown is cut off.
func TestRestartKeepsTopicsAndData(t *testing.T) {
	dir := t.TempDir()
	b1 := brokertest.StartBroker(t, brokertest.WithDataDir(dir))
	adm := newAdmin(t, b1.Addr())
	ret := "7200000"
	createTopic(t, adm, "keep", 2, map[string]*string{"retention.ms": &ret})
	td, _ := adm.ListTopics(ctxT(t, 5*time.Second), "keep")
	id := td["keep"].ID
	cl := newClient(t, b1.Addr(), kgo.DefaultProduceTopic("keep"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 100 {
		r := &kgo.Record{Value: []byte(fmt.Sprintf("v%03d", i)), Partition: int32(i % 2)}
		if err := cl.ProduceSync(ctxT(t, 5*time.Second), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	if err := b1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Simulate a torn write after the clean shutdown: half a batch of garbage.
	seg := lastSegment(t, filepath.Join(dir, "keep-0"))
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(append(bytes.Repeat([]byte{0}, 8), 0, 0, 1, 0, 1, 2, 3))
	f.Close()

	b2 := brokertest.StartBroker(t, brokertest.WithDataDir(dir))
	adm2 := newAdmin(t, b2.Addr())
	td, err = adm2.ListTopics(ctxT(t, 5*time.Second), "keep")
	if err != nil || td["keep"].Err != nil {
		t.Fatalf("topic gone after restart: %v %v", err, td["keep"].Err)
	}
	if td["keep"].ID != id || len(td["keep"].Partitions) != 2 {
		t.Fatalf("topic changed across restart: id %v→%v partitions %d", id, td["keep"].ID, len(td["keep"].Partitions))
	}
	rcs, _ := adm2.DescribeTopicConfigs(ctxT(t, 5*time.Second), "keep")
	rc, _ := rcs.On("keep", nil)
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() != ret {
			t.Fatalf("retention.ms after restart = %q", c.MaybeValue())
		}
	}
	recs := consumeN(t, b2.Addr(), "keep", 100)
	var vals []string
	for _, r := range recs {
		vals = append(vals, string(r.Value))
	}
	sort.Strings(vals)
	for i, v := range vals {
		if v != fmt.Sprintf("v%03d", i) {
			t.Fatalf("record %d = %q after restart", i, v)
		}
	}
	// Appends continue at the right offset.
	cl2 := newClient(t, b2.Addr(), kgo.DefaultProduceTopic("keep"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r := &kgo.Record{Value: []byte("after"), Partition: 0}
	if err := cl2.ProduceSync(ctxT(t, 5*time.Second), r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if r.Offset != 50 {
		t.Fatalf("first offset after restart = %d, want 50", r.Offset)
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(m) == 0 {
		t.Fatalf("no segment in %s", dir)
	}
	sort.Strings(m)
	return m[len(m)-1]
}
