package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// produceRawPart sends a record set to one partition.
func produceRawPart(t *testing.T, cl *kgo.Client, topic string, part int32, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = part, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

// produceRaw sends one partition's record set with a raw Produce v9 request and returns
// that partition's response.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	return produceRawPart(t, cl, topic, 0, records)
}

func goodBatch(n int, valueSize int) []byte {
	recs := make([]batch.Record, n)
	for i := range recs {
		recs[i] = batch.Record{OffsetDelta: int32(i), Key: []byte("k"), Value: make([]byte, valueSize)}
	}
	return batch.Build(batch.BuildOptions{ProducerID: -1, Codec: batch.CodecNone}, recs, time.Now().UnixMilli())
}

// TestRejectedBatches: each kind of bad batch gets Kafka's error code and a message,
// and nothing of it is written.
func TestRejectedBatches(t *testing.T) {
	addr := brokertest.Start(t)
	adm := newAdmin(t, addr)
	createTopic(t, adm, "strict", 1, map[string]*string{"max.message.bytes": kadm.StringPtr("2000")})
	createTopic(t, adm, "compacted", 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	cl := newClient(t, addr, kgo.MaxVersions(kversion12()))

	badCRC := goodBatch(3, 10)
	badCRC[len(badCRC)-1] ^= 0xff
	wrongCount := goodBatch(3, 10)
	wrongCount[60] = 7 // recordCount 3 → 7 (low byte), CRC then also fails: fix CRC below
	fixCRC(wrongCount)
	control := goodBatch(1, 10)
	control[22] |= 0x20 // attributes: control bit
	fixCRC(control)
	magic1 := goodBatch(1, 10)
	magic1[16] = 1
	keyless := batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Value: []byte("v")}}, time.Now().UnixMilli())
	two := append(goodBatch(1, 10), goodBatch(1, 10)...)

	for _, tc := range []struct {
		name, topic string
		records     []byte
		want        *kerr.Error
	}{
		{"crc", "strict", badCRC, kerr.CorruptMessage},
		{"too large", "strict", goodBatch(3, 1000), kerr.MessageTooLarge},
		{"record count", "strict", wrongCount, kerr.InvalidRecord},
		{"control batch", "strict", control, kerr.InvalidRecord},
		{"magic 1", "strict", magic1, kerr.InvalidRecord},
		{"truncated", "strict", goodBatch(2, 10)[:40], kerr.CorruptMessage},
		{"two batches", "strict", two, kerr.InvalidRecord},
		{"null key on compacted topic", "compacted", keyless, kerr.InvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := produceRaw(t, cl, tc.topic, tc.records)
			if sp.ErrorCode != tc.want.Code {
				t.Fatalf("error code %d (%v), want %s", sp.ErrorCode, kerr.ErrorForCode(sp.ErrorCode), tc.want.Message)
			}
			if sp.ErrorMessage == nil || *sp.ErrorMessage == "" {
				t.Fatalf("no error message saying what was wrong")
			}
			t.Logf("%s: %s", tc.want.Message, *sp.ErrorMessage)
			if tc.topic == "compacted" { // Kafka's record errors
				const want = "Compacted topic cannot accept message without key in topic partition compacted-0"
				if len(sp.ErrorRecords) != 1 || sp.ErrorRecords[0].RelativeOffset != 0 ||
					sp.ErrorRecords[0].ErrorMessage == nil || *sp.ErrorRecords[0].ErrorMessage != want {
					t.Fatalf("record errors %+v, want record 0: %q", sp.ErrorRecords, want)
				}
				if !strings.Contains(*sp.ErrorMessage, want) {
					t.Fatalf("error message %q does not name the keyless record", *sp.ErrorMessage)
				}
			}
		})
	}
	// A real client sees INVALID_RECORD for a keyless record on a compacted topic.
	err := cl.ProduceSync(ctxT(t, 10*time.Second), &kgo.Record{Topic: "compacted", Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("kgo produce of a keyless record to a compacted topic: %v, want INVALID_RECORD", err)
	}
	end, _ := adm.ListEndOffsets(ctxT(t, 5*time.Second), "strict", "compacted")
	end.Each(func(o kadm.ListedOffset) {
		if o.Offset != 0 {
			t.Errorf("%s: end offset %d after only rejected batches", o.Topic, o.Offset)
		}
	})
	// A good batch still goes in.
	if sp := produceRaw(t, cl, "strict", goodBatch(3, 10)); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("good batch: error %d base %d", sp.ErrorCode, sp.BaseOffset)
	}
}

func fixCRC(b []byte) {
	c := batch.CRC(b)
	b[17], b[18], b[19], b[20] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
}

// TestLogAppendTime: a LogAppendTime topic stamps batches with the broker's clock.
func TestLogAppendTime(t *testing.T) {
	addr := brokertest.Start(t)
	adm := newAdmin(t, addr)
	createTopic(t, adm, "lat", 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")})
	cl := newClient(t, addr, kgo.DefaultProduceTopic("lat"))
	old := time.Now().Add(-48 * time.Hour)
	before := time.Now()
	if err := cl.ProduceSync(ctxT(t, 5*time.Second), &kgo.Record{Value: []byte("x"), Timestamp: old}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := consumeN(t, addr, "lat", 1)[0]
	if r.Timestamp.Before(before.Add(-time.Second)) || r.Timestamp.After(time.Now().Add(time.Second)) {
		t.Fatalf("record timestamp %v, want the broker's append time (~%v)", r.Timestamp, before)
	}
	if r.Attrs.TimestampType() != 1 {
		t.Fatal("batch not marked LogAppendTime")
	}
}

// TestAsyncFlushMode: with log.flush.before.ack=false produce and consume still work
// (acks answered from the page cache, synced in the background).
func TestAsyncFlushMode(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(func(c *config.Config) {
		c.LogFlushBeforeAck = false
		c.LogFlushIntervalMs = 50
	}))
	createTopic(t, newAdmin(t, addr), "async", 2, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("async"))
	for i := range 100 {
		if err := cl.ProduceSync(ctxT(t, 5*time.Second), &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if got := consumeN(t, addr, "async", 100); len(got) != 100 {
		t.Fatalf("read %d records", len(got))
	}
}

// TestExternalNATS: with [metadata] nats_url the broker keeps topics in that NATS, and
// a broker restarted against it sees them.
func TestExternalNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	dir := t.TempDir()
	ext := brokertest.WithConfig(func(c *config.Config) { c.Metadata.NatsURL = ns.ClientURL() })
	b1 := brokertest.StartBroker(t, ext, brokertest.WithDataDir(dir))
	createTopic(t, newAdmin(t, b1.Addr()), "ext", 3, nil)
	if err := b1.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	b2 := brokertest.StartBroker(t, ext, brokertest.WithDataDir(dir))
	td, err := newAdmin(t, b2.Addr()).ListTopics(ctxT(t, 5*time.Second), "ext")
	if err != nil || td["ext"].Err != nil || len(td["ext"].Partitions) != 3 {
		t.Fatalf("topic not kept in external NATS: %v %+v", err, td["ext"])
	}
}
