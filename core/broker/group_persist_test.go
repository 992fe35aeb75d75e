package broker_test

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// TestGroupMembershipSurvivesRestart: a Stable group (a dynamic and a static kgo member)
// comes back after a broker restart on the same data dir and port with the same
// generation, member ids and assignments. Asserted:
//   - right after the restart (before any client rejoins), DescribeGroups shows the group
//     Stable with the same members and assignments, and a Heartbeat with the old member id
//     and generation succeeds (no UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION);
//   - the running kgo members reconnect and keep their generation: kgo retries the
//     heartbeat on the new connection and never rejoins (no new OnPartitionsAssigned);
//   - consumption continues: records produced after the restart are consumed, and no
//     record below the committed offsets is consumed a second time;
//   - the static member, restarted (a new client with the same instance id), gets its old
//     assignment back in the same generation, without a rebalance of the other member.
func TestGroupMembershipSurvivesRestart(t *testing.T) {
	const topic, grp = "persist", "persisters"
	dir := t.TempDir()
	b1 := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(groupConfig))
	_, port, _ := net.SplitHostPort(b1.Addr())
	sameAddr := brokertest.WithConfig(func(c *config.Config) {
		groupConfig(c)
		c.Listeners = "127.0.0.1:" + port
	})
	addr := b1.Addr()
	adm := newAdmin(t, addr)
	createTopic(t, adm, topic, 4, nil)

	opts := []kgo.Opt{kgo.DisableAutoCommit(), kgo.SessionTimeout(10 * time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond })}
	dyn := startMember(t, addr, grp, topic, opts...)
	stat := startMember(t, addr, grp, topic, append(opts, kgo.InstanceID("static-1"))...)
	before := stableAssignment(t, adm, grp, topic, 2, 4)
	first := produceValues(t, addr, topic, "before", 8, 4)
	waitConsumed(t, first, dyn, stat)
	for _, m := range []*member{dyn, stat} {
		if err := m.cl.CommitUncommittedOffsets(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	dynID, gen := dyn.cl.GroupMetadata()
	statID, statGen := stat.cl.GroupMetadata()
	if gen != statGen || gen <= 0 {
		t.Fatalf("generations %d and %d before the restart", gen, statGen)
	}
	dynAsg := dyn.assignedCalls()
	asgBefore := dynAsg + stat.assignedCalls()

	if err := b1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	b2 := brokertest.StartBroker(t, brokertest.WithDataDir(dir), sameAddr)
	if b2.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", b2.Addr(), addr)
	}

	// Restored state, checked by a separate client.
	raw := newClient(t, addr)
	if err := rawHeartbeat(t, raw, grp, gen, dynID, ""); err != nil {
		t.Fatalf("heartbeat with the old member id and generation after restart: %v", err)
	}
	if err := rawHeartbeat(t, raw, grp, gen, statID, "static-1"); err != nil {
		t.Fatalf("static member's heartbeat after restart: %v", err)
	}
	adm2 := newAdmin(t, addr)
	if after := stableAssignment(t, adm2, grp, topic, 2, 4); !sameAssignment(before, after) {
		t.Fatalf("assignment after restart %v, was %v", after, before)
	}

	// The kgo members carry on in the same generation.
	second := produceValues(t, addr, topic, "after", 8, 4)
	waitConsumed(t, second, dyn, stat)
	time.Sleep(500 * time.Millisecond) // a few heartbeats on the new broker
	if id, g := dyn.cl.GroupMetadata(); id != dynID || g != gen {
		t.Errorf("dynamic member after restart: %s gen %d, was %s gen %d", id, g, dynID, gen)
	}
	if id, g := stat.cl.GroupMetadata(); id != statID || g != gen {
		t.Errorf("static member after restart: %s gen %d, was %s gen %d", id, g, statID, gen)
	}
	if n := dyn.assignedCalls() + stat.assignedCalls(); n != asgBefore {
		t.Errorf("members were reassigned after the restart (%d assignment callbacks, was %d)", n, asgBefore)
	}
	for _, v := range first {
		dyn.mu.Lock()
		stat.mu.Lock()
		if n := dyn.seen[v] + stat.seen[v]; n != 1 {
			t.Errorf("committed record %s consumed %d times", v, n)
		}
		stat.mu.Unlock()
		dyn.mu.Unlock()
	}

	// The static member restarts: same generation, same partitions, no rebalance.
	if err := stat.cl.CommitUncommittedOffsets(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	stat.close() // a static member does not leave the group on close
	stat2 := startMember(t, addr, grp, topic, append(opts, kgo.InstanceID("static-1"))...)
	var newID string
	deadline := time.Now().Add(8 * time.Second)
	for {
		id, g := stat2.cl.GroupMetadata()
		if stat2.assignedCalls() > 0 && id != "" {
			if g != gen {
				t.Fatalf("restarted static member in generation %d, want %d (no rebalance)", g, gen)
			}
			newID = id
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("restarted static member never got an assignment")
		}
		time.Sleep(20 * time.Millisecond)
	}
	final := stableAssignment(t, adm2, grp, topic, 2, 4)
	if !slices.Equal(final[newID], before[statID]) || !slices.Equal(final[dynID], before[dynID]) {
		t.Fatalf("assignment after the static member's restart %v, was %v", final, before)
	}
	if n := dyn.assignedCalls(); n != dynAsg {
		t.Errorf("dynamic member reassigned when the static member restarted (%d callbacks)", n)
	}
	third := produceValues(t, addr, topic, "third", 8, 4)
	waitConsumed(t, third, dyn, stat2)
	stat2.mu.Lock()
	defer stat2.mu.Unlock()
	for _, v := range append(first, second...) {
		if stat2.seen[v] > 0 {
			t.Errorf("record %s, committed before the static member restarted, consumed again", v)
		}
	}
}

// sameAssignment compares member id → partitions maps.
func sameAssignment(a, b map[string][]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for id, ps := range a {
		if !slices.Equal(ps, b[id]) {
			return false
		}
	}
	return true
}
