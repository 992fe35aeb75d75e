//go:build cgo

package rdkafka_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rdConsumer is a librdkafka consumer polled by a goroutine until closed.
type rdConsumer struct {
	c    *kafka.Consumer
	mu   sync.Mutex
	seen map[string]int
	errs []string
	stop chan struct{}
	done chan struct{}
}

func startRd(t *testing.T, addr, grp, topic string) *rdConsumer {
	t.Helper()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":       addr,
		"group.id":                grp,
		"group.protocol":          "consumer",
		"auto.offset.reset":       "earliest",
		"enable.auto.commit":      true,
		"auto.commit.interval.ms": 100,
		"log_level":               3,
	})
	if err != nil {
		t.Fatalf("librdkafka consumer: %v", err)
	}
	if err := c.SubscribeTopics([]string{topic}, nil); err != nil {
		t.Fatal(err)
	}
	r := &rdConsumer{c: c, seen: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.stop:
				return
			default:
			}
			switch ev := c.Poll(50).(type) {
			case *kafka.Message:
				r.mu.Lock()
				r.seen[string(ev.Value)]++
				r.mu.Unlock()
			case kafka.Error:
				r.mu.Lock()
				r.errs = append(r.errs, ev.Error())
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(r.close)
	return r
}

// close stops polling and closes the consumer (committing and leaving the group).
func (r *rdConsumer) close() {
	select {
	case <-r.done:
		return
	default:
	}
	close(r.stop)
	<-r.done
	_ = r.c.Close()
}

func (r *rdConsumer) count(v string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[v]
}

func produce(t *testing.T, cl *kgo.Client, topic, prefix string, n, parts int) []string {
	t.Helper()
	var vals []string
	for i := range n {
		v := fmt.Sprintf("%s-%d", prefix, i)
		vals = append(vals, v)
		r := &kgo.Record{Topic: topic, Value: []byte(v), Partition: int32(i % parts)}
		if err := cl.ProduceSync(ctxT(t, 10*time.Second), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return vals
}

func waitConsumed(t *testing.T, vals []string, rs ...*rdConsumer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := 0
		for _, v := range vals {
			n := 0
			for _, r := range rs {
				n += r.count(v)
			}
			if n == 0 {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			var errs []string
			for _, r := range rs {
				r.mu.Lock()
				errs = append(errs, r.errs...)
				r.mu.Unlock()
			}
			t.Fatalf("%d of %d records not consumed; client errors: %v", missing, len(vals), errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLayout waits until the consumer group is Stable with n members whose assignments
// cover parts partitions of topic, each member owning sizes[i] of them.
func waitLayout(t *testing.T, adm *kadm.Client, grp, topic string, parts int, sizes ...int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		d, err := adm.DescribeConsumerGroups(ctxT(t, 5*time.Second), grp)
		if err != nil {
			t.Fatal(err)
		}
		g := d[grp]
		var got []int
		owned := map[int32]int{}
		for _, m := range g.Members {
			got = append(got, len(m.Assignment[topic]))
			for p := range m.Assignment[topic] {
				owned[p]++
			}
		}
		slices.Sort(got)
		ok := g.Err == nil && g.State == "Stable" && slices.Equal(got, sizes) && len(owned) == parts
		for _, c := range owned {
			ok = ok && c == 1
		}
		if ok {
			for _, m := range g.Members {
				if !strings.HasPrefix(m.ClientID, "rdkafka") {
					t.Errorf("member client id %q, want librdkafka's", m.ClientID)
				}
			}
			return
		}
		last = fmt.Sprintf("err %v state %s sizes %v", g.Err, g.State, got)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s never reached %v: %s", grp, sizes, last)
}

// TestConsumerProtocol: librdkafka consumers with group.protocol=consumer (KIP-848)
// share a topic through streamd's server-side assignment, hand partitions over when a
// member joins and leaves, and commit offsets the group keeps.
func TestConsumerProtocol(t *testing.T) {
	n, ver := kafka.LibraryVersion()
	t.Logf("librdkafka %s (%#x)", ver, n)
	addr := brokertest.Start(t, brokertest.WithConfig(func(c *config.Config) {
		c.GroupInitialRebalanceDelayMs = 100
		c.GroupMinSessionTimeoutMs = 100
		c.OffsetsTopicNumPartitions = 5
		c.GroupConsumerHeartbeatIntervalMs = 100
		c.GroupConsumerSessionTimeoutMs = 3000
	}))
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	const topic, grp = "rdk848", "rdk848-group"
	if r, err := adm.CreateTopic(ctxT(t, 10*time.Second), 4, 1, nil, topic); err != nil || r.Err != nil {
		t.Fatalf("create topic: %v %v", err, r.Err)
	}
	vals := produce(t, cl, topic, "first", 20, 4)

	c1 := startRd(t, addr, grp, topic)
	waitLayout(t, adm, grp, topic, 4, 4)
	waitConsumed(t, vals, c1)

	c2 := startRd(t, addr, grp, topic)
	waitLayout(t, adm, grp, topic, 4, 2, 2)
	vals = append(vals, produce(t, cl, topic, "second", 20, 4)...)
	waitConsumed(t, vals, c1, c2)

	c2.close()
	waitLayout(t, adm, grp, topic, 4, 4)
	vals = append(vals, produce(t, cl, topic, "third", 20, 4)...)
	waitConsumed(t, vals, c1, c2)
	c1.close()

	offs, err := adm.FetchOffsets(ctxT(t, 5*time.Second), grp)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(4) {
		if o, ok := offs.Lookup(topic, p); !ok || o.At != 15 {
			t.Errorf("committed offset of %s/%d: %+v, want 15", topic, p, o)
		}
	}
}
