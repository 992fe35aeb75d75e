package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/broker/brokertest"
)

// TestFetchByteLimits: partition_max_bytes and max_bytes bound the response to whole
// batches, except that the first batch is returned even when it alone is larger
// (KIP-74); read_committed consumers read everything (no transactions).
func TestFetchByteLimits(t *testing.T) {
	addr := brokertest.Start(t)
	createTopic(t, newAdmin(t, addr), "limits", 2, nil)
	cl := newClient(t, addr, kgo.MaxVersions(kversion12()))
	for p := range int32(2) {
		for range 10 {
			sp := produceRawPart(t, cl, "limits", p, goodBatch(10, 1000)) // ≈ 10 KB batches
			if sp.ErrorCode != 0 {
				t.Fatalf("produce: %d", sp.ErrorCode)
			}
		}
	}
	size := len(goodBatch(10, 1000))
	fetch := func(maxBytes, partMax int32, parts ...int32) []int {
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes = maxBytes
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "limits"
		for _, p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.PartitionMaxBytes = p, partMax
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t, 5*time.Second), cl)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, sp := range resp.Topics[0].Partitions {
			if sp.ErrorCode != 0 {
				t.Fatalf("fetch error %d", sp.ErrorCode)
			}
			got = append(got, len(sp.RecordBatches))
		}
		return got
	}
	if got := fetch(1<<20, int32(2*size+size/2), 0); got[0] != 2*size {
		t.Fatalf("partition_max_bytes 2.5 batches: got %d bytes, want %d (2 whole batches)", got[0], 2*size)
	}
	if got := fetch(1<<20, 1, 0); got[0] != size {
		t.Fatalf("partition_max_bytes 1: got %d bytes, want the first batch whole (%d)", got[0], size)
	}
	if got := fetch(int32(3*size), 1<<20, 0, 1); got[0] != 3*size || got[1] != 0 {
		t.Fatalf("max_bytes 3 batches over 2 partitions: got %v, want [%d 0]", got, 3*size)
	}
	if got := fetch(int32(size/2), 1<<20, 0, 1); got[0] != size || got[1] != 0 {
		t.Fatalf("max_bytes below one batch: got %v, want the first batch only", got)
	}
	recs := consumeN(t, addr, "limits", 200, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if len(recs) != 200 {
		t.Fatalf("read_committed consumer read %d records", len(recs))
	}
}
