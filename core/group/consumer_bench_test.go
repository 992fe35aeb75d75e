package group

import (
	"fmt"
	"testing"
	"time"
)

// KIP-848 benchmarks: simulated clients call ConsumerHeartbeat directly (no network, no
// heartbeat interval): after joining, every member heartbeats in turn, reporting what it
// owns (revoked partitions dropped, new ones taken), until the group is Stable. One op is
// the whole convergence; "rounds" is how many heartbeats of every member it took.
//
//	go test ./core/group -run '^$' -bench Consumer -benchtime 20x

func benchConsumerCoordinator(b *testing.B, topics, parts int) *Coordinator {
	ts := &topicSet{parts: map[string]int32{}}
	for i := range topics {
		ts.parts[fmt.Sprintf("t%02d", i)] = int32(parts)
	}
	c := New(ts.config(Config{Tick: time.Hour, ConsumerSessionTimeout: time.Hour}))
	b.Cleanup(c.Close)
	return c
}

type benchClient struct {
	id    string
	epoch int32
	owned Partitions
}

func topicNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%02d", i)
	}
	return out
}

func (cl *benchClient) apply(res HeartbeatResult) {
	if res.Err != nil {
		panic(res.Err)
	}
	cl.epoch = res.MemberEpoch
	if res.Assignment != nil {
		cl.owned = res.Assignment
	}
}

// benchConverge heartbeats every client until the group is Stable; it returns the rounds.
func benchConverge(c *Coordinator, cls []*benchClient) int {
	for round := 1; ; round++ {
		for _, cl := range cls {
			cl.apply(c.ConsumerHeartbeat(beatHB(cl.id, cl.epoch, clonePartitions(cl.owned))))
		}
		if c.ConsumerDescribe("g").State == "Stable" {
			return round
		}
		if round > 100 {
			panic("no convergence")
		}
	}
}

func benchJoin(c *Coordinator, id string, topics []string) *benchClient {
	cl := &benchClient{id: id}
	cl.apply(c.ConsumerHeartbeat(joinHB(id, topics...)))
	return cl
}

// BenchmarkConsumerGroupForm100: 100 members (10 topics × 100 partitions, uniform) form a
// new group and reach Stable.
func BenchmarkConsumerGroupForm100(b *testing.B) {
	topics := topicNames(10)
	rounds := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c := benchConsumerCoordinator(b, 10, 100)
		b.StartTimer()
		cls := make([]*benchClient, 100)
		for j := range cls {
			cls[j] = benchJoin(c, fmt.Sprintf("m%03d", j), topics)
		}
		rounds += benchConverge(c, cls)
	}
	b.ReportMetric(float64(rounds)/float64(b.N), "rounds/op")
}

// BenchmarkConsumerJoin100th: a 100th member joins a Stable group of 99; the group is
// Stable again with partitions moved to it.
func BenchmarkConsumerJoin100th(b *testing.B) {
	topics := topicNames(10)
	rounds := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c := benchConsumerCoordinator(b, 10, 100)
		cls := make([]*benchClient, 99)
		for j := range cls {
			cls[j] = benchJoin(c, fmt.Sprintf("m%03d", j), topics)
		}
		benchConverge(c, cls)
		b.StartTimer()
		cls = append(cls, benchJoin(c, "m099", topics))
		rounds += benchConverge(c, cls)
	}
	b.ReportMetric(float64(rounds)/float64(b.N), "rounds/op")
}

// BenchmarkConsumerHeartbeatKeepalive: the steady-state heartbeat of a reconciled member
// of a 100-member group.
func BenchmarkConsumerHeartbeatKeepalive(b *testing.B) {
	topics := topicNames(10)
	c := benchConsumerCoordinator(b, 10, 100)
	cls := make([]*benchClient, 100)
	for j := range cls {
		cls[j] = benchJoin(c, fmt.Sprintf("m%03d", j), topics)
	}
	benchConverge(c, cls)
	r := beatHB(cls[0].id, cls[0].epoch, nil)
	b.ReportAllocs()
	for b.Loop() {
		if res := c.ConsumerHeartbeat(r); res.Err != nil || res.Assignment != nil {
			b.Fatalf("%+v", res)
		}
	}
}
