package broker_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// cgHeartbeat sends a raw ConsumerGroupHeartbeat and returns the response.
func cgHeartbeat(t *testing.T, cl *kgo.Client, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// cgJoin is a raw join request (member epoch 0) of grp subscribing to topics.
func cgJoin(grp, member string, topics ...string) *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.MemberID, req.MemberEpoch = grp, member, 0
	req.RebalanceTimeoutMillis = 5000
	req.SubscribedTopicNames = topics
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	return req
}

func byInstance(g kadm.DescribedConsumerGroup, topic, instance string) (string, []int32) {
	for _, m := range g.Members {
		if m.InstanceID != nil && *m.InstanceID == instance {
			return m.MemberID, partitionsOf(g, topic)[m.MemberID]
		}
	}
	return "", nil
}

// TestGroup848StaticMembers: a static member (group.instance.id) that restarts gets its
// partitions back in the same group epoch, without the other member being reassigned; a
// second live member with the same instance id is refused (UNRELEASED_INSTANCE_ID) and a
// stale member id is fenced (FENCED_INSTANCE_ID).
func TestGroup848StaticMembers(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(group848Config))
	adm := newAdmin(t, addr)
	const topic, grp = "static848", "g-static848"
	createTopic(t, adm, topic, 4, nil)
	own := newOwnership()
	a := start848(t, addr, grp, "a", []string{topic}, own, kgo.InstanceID("sa"))
	b := start848(t, addr, grp, "b", []string{topic}, own, kgo.InstanceID("sb"))
	g := layout848(t, adm, grp, topic, 2, 4, nil)
	vals := produceValues(t, addr, topic, "s", 40, 4)
	waitProcessed(t, vals, a, b)
	bID, bParts := byInstance(g, topic, "sb")
	aCalls := a.assignedCalls()

	b.close() // a static member leaves temporarily (member epoch -2)
	b2 := start848(t, addr, grp, "b2", []string{topic}, own, kgo.InstanceID("sb"))
	var b2ID string
	g2 := layout848(t, adm, grp, topic, 2, 4, func(d kadm.DescribedConsumerGroup) error {
		id, ps := byInstance(d, topic, "sb")
		if id == bID || !slices.Equal(ps, bParts) {
			return errors.New("the restarted static member is not back with its partitions yet")
		}
		b2ID = id
		return nil
	})
	if g2.Epoch != g.Epoch {
		t.Errorf("group epoch %d after the static member restarted, was %d (a rebalance happened)", g2.Epoch, g.Epoch)
	}
	if n := a.assignedCalls(); n != aCalls {
		t.Errorf("the other member was reassigned %d times", n-aCalls)
	}
	more := produceValues(t, addr, topic, "s2", 40, 4)
	vals = append(vals, more...)
	waitProcessed(t, vals, a, b, b2)
	exactlyOnce(t, vals, a, b, b2)
	own.check(t)

	raw := newClient(t, addr)
	dup := cgJoin(grp, "intruder", topic)
	dup.InstanceID = kmsg.StringPtr("sa")
	if r := cgHeartbeat(t, raw, dup); r.ErrorCode != kerr.UnreleasedInstanceID.Code || r.ErrorMessage == nil {
		t.Errorf("join with a live member's instance id: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	stale := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	stale.Group, stale.MemberID, stale.MemberEpoch, stale.InstanceID = grp, bID, g.Epoch, kmsg.StringPtr("sb")
	stale.RebalanceTimeoutMillis = -1
	if r := cgHeartbeat(t, raw, stale); r.ErrorCode != kerr.FencedInstanceID.Code {
		t.Errorf("heartbeat of the replaced static member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if _, ps := byInstance(layout848(t, adm, grp, topic, 2, 4, nil), topic, "sb"); !slices.Equal(ps, bParts) {
		t.Errorf("static member %s lost its partitions to the refused requests", b2ID)
	}
}

// TestGroup848SurvivesRestart: a consumer group, its members' epochs and assignments and
// its committed offsets come back after a broker restart on the same data dir and port;
// the running kgo members carry on with their member ids (no rejoin) and process nothing
// twice.
func TestGroup848SurvivesRestart(t *testing.T) {
	const topic, grp = "restart848", "g-restart848"
	dir := t.TempDir()
	b1 := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(group848Config))
	_, port, _ := net.SplitHostPort(b1.Addr())
	addr := b1.Addr()
	adm := newAdmin(t, addr)
	createTopic(t, adm, topic, 4, nil)
	own := newOwnership()
	opts := kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond })
	a := start848(t, addr, grp, "a", []string{topic}, own, opts)
	b := start848(t, addr, grp, "b", []string{topic}, own, opts, kgo.InstanceID("sb"))
	before := layout848(t, adm, grp, topic, 2, 4, nil)
	first := produceValues(t, addr, topic, "before", 40, 4)
	waitProcessed(t, first, a, b)
	for _, m := range []*consumer848{a, b} {
		if err := m.cl.CommitUncommittedOffsets(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := adm.FetchOffsets(ctxT(t, 5*time.Second), grp)
	if err != nil || committed.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, committed.Error())
	}
	if err := b1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	b2 := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(func(c *config.Config) {
		group848Config(c)
		c.Listeners = "127.0.0.1:" + port
	}))
	if b2.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", b2.Addr(), addr)
	}
	adm2 := newAdmin(t, addr)
	after := layout848(t, adm2, grp, topic, 2, 4, nil)
	if after.Epoch != before.Epoch || !sameAssignment(partitionsOf(before, topic), partitionsOf(after, topic)) {
		t.Fatalf("after the restart: epoch %d %v, before epoch %d %v", after.Epoch, partitionsOf(after, topic), before.Epoch, partitionsOf(before, topic))
	}
	got, err := adm2.FetchOffsets(ctxT(t, 5*time.Second), grp)
	if err != nil {
		t.Fatal(err)
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if g, ok := got.Lookup(o.Topic, o.Partition); !ok || g.At != o.At {
			t.Errorf("committed offset of %s/%d after restart: %+v, was %d", o.Topic, o.Partition, g, o.At)
		}
	})
	second := produceValues(t, addr, topic, "after", 40, 4)
	waitProcessed(t, append(first, second...), a, b)
	final := layout848(t, adm2, grp, topic, 2, 4, nil)
	if !sameAssignment(partitionsOf(before, topic), partitionsOf(final, topic)) {
		t.Errorf("members rejoined after the restart: %v, before %v", partitionsOf(final, topic), partitionsOf(before, topic))
	}
	exactlyOnce(t, append(first, second...), a, b)
	own.check(t)
}
