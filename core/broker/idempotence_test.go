package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/broker/brokertest"
)

func idemBatch(pid int64, epoch int16, seq int32, n int) []byte {
	recs := make([]batch.Record, n)
	for i := range recs {
		recs[i] = batch.Record{OffsetDelta: int32(i), Value: []byte("v")}
	}
	return batch.Build(batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, recs, time.Now().UnixMilli())
}

// TestIdempotentProducer: a retried batch is not written twice, gaps and old epochs are
// refused, and InitProducerId hands out distinct ids.
func TestIdempotentProducer(t *testing.T) {
	addr := brokertest.Start(t)
	adm := newAdmin(t, addr)
	createTopic(t, adm, "idem", 1, nil)
	cl := newClient(t, addr, kgo.MaxVersions(kversion12()))

	ids := map[int64]bool{}
	var pid int64
	for range 3 {
		req := kmsg.NewPtrInitProducerIDRequest()
		resp, err := req.RequestWith(ctxT(t, 5*time.Second), cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("init producer id: %v %d", err, resp.ErrorCode)
		}
		if ids[resp.ProducerID] || resp.ProducerEpoch != 0 {
			t.Fatalf("producer id %d epoch %d reused or bad", resp.ProducerID, resp.ProducerEpoch)
		}
		ids[resp.ProducerID] = true
		pid = resp.ProducerID
	}

	steps := []struct {
		name     string
		records  []byte
		wantCode int16
		wantBase int64
	}{
		{"first", idemBatch(pid, 0, 0, 3), 0, 0},
		{"second", idemBatch(pid, 0, 3, 2), 0, 3},
		{"retry of first", idemBatch(pid, 0, 0, 3), 0, 0},
		{"retry of second", idemBatch(pid, 0, 3, 2), 0, 3},
		{"gap", idemBatch(pid, 0, 9, 1), kerr.OutOfOrderSequenceNumber.Code, -1},
		{"next", idemBatch(pid, 0, 5, 1), 0, 5},
		{"new epoch", idemBatch(pid, 1, 0, 1), 0, 6},
		{"old epoch", idemBatch(pid, 0, 6, 1), kerr.InvalidProducerEpoch.Code, -1},
	}
	for _, s := range steps {
		sp := produceRaw(t, cl, "idem", s.records)
		if sp.ErrorCode != s.wantCode || (s.wantCode == 0 && sp.BaseOffset != s.wantBase) {
			t.Fatalf("%s: error %d base %d, want error %d base %d", s.name, sp.ErrorCode, sp.BaseOffset, s.wantCode, s.wantBase)
		}
	}
	end, _ := adm.ListEndOffsets(ctxT(t, 5*time.Second), "idem")
	if o, _ := end.Lookup("idem", 0); o.Offset != 7 {
		t.Fatalf("end offset %d, want 7 (retries not written twice)", o.Offset)
	}
}

// TestIdempotenceSurvivesRestart: a batch retried after a broker restart is recognised
// from the log tail and not written twice.
func TestIdempotenceSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b1 := brokertest.StartBroker(t, brokertest.WithDataDir(dir))
	createTopic(t, newAdmin(t, b1.Addr()), "idem2", 1, nil)
	cl := newClient(t, b1.Addr(), kgo.MaxVersions(kversion12()))
	const pid = 4242
	if sp := produceRaw(t, cl, "idem2", idemBatch(pid, 0, 0, 2)); sp.ErrorCode != 0 {
		t.Fatalf("produce: %d", sp.ErrorCode)
	}
	if sp := produceRaw(t, cl, "idem2", idemBatch(pid, 0, 2, 3)); sp.ErrorCode != 0 || sp.BaseOffset != 2 {
		t.Fatalf("produce: %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
	cl.Close()
	if err := b1.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	b2 := brokertest.StartBroker(t, brokertest.WithDataDir(dir))
	cl2 := newClient(t, b2.Addr(), kgo.MaxVersions(kversion12()))
	if sp := produceRaw(t, cl2, "idem2", idemBatch(pid, 0, 2, 3)); sp.ErrorCode != 0 || sp.BaseOffset != 2 {
		t.Fatalf("retry after restart: error %d base %d, want the original offset 2", sp.ErrorCode, sp.BaseOffset)
	}
	if sp := produceRaw(t, cl2, "idem2", idemBatch(pid, 0, 9, 1)); sp.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap after restart: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", sp.ErrorCode)
	}
	end, _ := newAdmin(t, b2.Addr()).ListEndOffsets(ctxT(t, 5*time.Second), "idem2")
	if o, _ := end.Lookup("idem2", 0); o.Offset != 5 {
		t.Fatalf("end offset %d, want 5", o.Offset)
	}
}
