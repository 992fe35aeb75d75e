package broker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/streamd/streamd/core/broker/brokertest"
)

// saramaHandler records every message of its claims and marks it for commit.
type saramaHandler struct {
	mu   sync.Mutex
	seen map[string]int
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.seen[string(m.Value)]++
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

// TestGroupSaramaAndKafkaGo: two sarama consumer group members share a topic (classic
// protocol, range) and commit what they consumed; a segmentio/kafka-go group reader then
// resumes from those commits and reads only the newer records.
func TestGroupSaramaAndKafkaGo(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	const topic, grp = "clients-groups", "g-clients"
	createTopic(t, adm, topic, 4, nil)
	first := produceValues(t, addr, topic, "first", 40, 4)

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Session.Timeout = 3 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 100 * time.Millisecond
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	h := &saramaHandler{seen: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var groups []sarama.ConsumerGroup
	for range 2 {
		cg, err := sarama.NewConsumerGroup([]string{addr}, grp, cfg)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, cg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	stableAssignment(t, adm, grp, topic, 2, 4)
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.mu.Lock()
		n := 0
		for _, v := range first {
			if h.seen[v] > 0 {
				n++
			}
		}
		h.mu.Unlock()
		if n == len(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sarama members consumed %d of %d records", n, len(first))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	for _, cg := range groups {
		if err := cg.Close(); err != nil { // commits the marked offsets
			t.Fatal(err)
		}
	}
	wg.Wait()
	offs, err := adm.FetchOffsets(ctxT(t, 5*time.Second), grp)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(4) {
		if o, ok := offs.Lookup(topic, p); !ok || o.At != 10 {
			t.Fatalf("sarama committed %s/%d: %+v, want 10", topic, p, o)
		}
	}

	second := produceValues(t, addr, topic, "second", 8, 4)
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, GroupID: grp, Topic: topic,
		MaxWait: 100 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: 3 * time.Second,
		RebalanceTimeout: 3 * time.Second, StartOffset: kafkago.FirstOffset})
	defer r.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	got := map[string]bool{}
	for range second {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("kafka-go group read: %v", err)
		}
		got[string(m.Value)] = true
	}
	for _, v := range second {
		if !got[v] {
			t.Fatalf("kafka-go group reader read %v, want the %d new records %v (resuming after sarama's commits)", got, len(second), second)
		}
	}
}
