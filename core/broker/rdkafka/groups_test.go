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

func startRd(t *testing.T, addr, grp, topic, protocol string) *rdConsumer {
	t.Helper()
	cfg := kafka.ConfigMap{
		"bootstrap.servers":       addr,
		"group.id":                grp,
		"group.protocol":          protocol,
		"auto.offset.reset":       "earliest",
		"enable.auto.commit":      true,
		"auto.commit.interval.ms": 100,
		"log_level":               3,
	}
	if protocol == "classic" {
		cfg["session.timeout.ms"] = 3000
		cfg["heartbeat.interval.ms"] = 100
	}
	c, err := kafka.NewConsumer(&cfg)
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

// member is one group member as described by ConsumerGroupDescribe (consumer protocol)
// or DescribeGroups (classic).
type member struct {
	clientID string
	parts    []int32
}

func describe(t *testing.T, adm *kadm.Client, grp, topic, protocol string) (state string, ms []member, err error) {
	if protocol == "consumer" {
		d, err := adm.DescribeConsumerGroups(ctxT(t, 5*time.Second), grp)
		if err != nil {
			return "", nil, err
		}
		g := d[grp]
		for _, m := range g.Members {
			var ps []int32
			for p := range m.Assignment[topic] {
				ps = append(ps, p)
			}
			ms = append(ms, member{m.ClientID, ps})
		}
		return g.State, ms, g.Err
	}
	d, err := adm.DescribeGroups(ctxT(t, 5*time.Second), grp)
	if err != nil {
		return "", nil, err
	}
	g := d[grp]
	for _, m := range g.Members {
		var ps []int32
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, at := range c.Topics {
				if at.Topic == topic {
					ps = append(ps, at.Partitions...)
				}
			}
		}
		ms = append(ms, member{m.ClientID, ps})
	}
	return g.State, ms, g.Err
}

// waitLayout waits until the group is Stable with members whose assignments cover parts
// partitions of topic, each member owning sizes[i] of them.
func waitLayout(t *testing.T, adm *kadm.Client, grp, topic, protocol string, parts int, sizes ...int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		state, ms, err := describe(t, adm, grp, topic, protocol)
		var got []int
		owned := map[int32]int{}
		for _, m := range ms {
			got = append(got, len(m.parts))
			for _, p := range m.parts {
				owned[p]++
			}
		}
		slices.Sort(got)
		ok := err == nil && state == "Stable" && slices.Equal(got, sizes) && len(owned) == parts
		for _, c := range owned {
			ok = ok && c == 1
		}
		if ok {
			for _, m := range ms {
				if !strings.HasPrefix(m.clientID, "rdkafka") {
					t.Errorf("member client id %q, want librdkafka's", m.clientID)
				}
			}
			return
		}
		last = fmt.Sprintf("err %v state %s sizes %v", err, state, got)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s never reached %v: %s", grp, sizes, last)
}

// TestGroupProtocols: librdkafka consumers with group.protocol=consumer (KIP-848: the
// assignment is computed by streamd) and group.protocol=classic share a topic, hand
// partitions over when a member joins and leaves, and commit offsets the group keeps.
func TestGroupProtocols(t *testing.T) {
	n, ver := kafka.LibraryVersion()
	t.Logf("librdkafka %s (%#x)", ver, n)
	for _, protocol := range []string{"consumer", "classic"} {
		t.Run(protocol, func(t *testing.T) { testProtocol(t, protocol) })
	}
}

func testProtocol(t *testing.T, protocol string) {
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
	topic, grp := "rdk-"+protocol, "rdk-group-"+protocol
	if r, err := adm.CreateTopic(ctxT(t, 10*time.Second), 4, 1, nil, topic); err != nil || r.Err != nil {
		t.Fatalf("create topic: %v %v", err, r.Err)
	}
	vals := produce(t, cl, topic, "first", 20, 4)

	c1 := startRd(t, addr, grp, topic, protocol)
	waitLayout(t, adm, grp, topic, protocol, 4, 4)
	waitConsumed(t, vals, c1)

	c2 := startRd(t, addr, grp, topic, protocol)
	waitLayout(t, adm, grp, topic, protocol, 4, 2, 2)
	vals = append(vals, produce(t, cl, topic, "second", 20, 4)...)
	waitConsumed(t, vals, c1, c2)

	c2.close()
	waitLayout(t, adm, grp, topic, protocol, 4, 4)
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
