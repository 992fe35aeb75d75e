package group

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerJoin is a join whose metadata is a ConsumerMemberMetadata for topics, owning owned.
func consumerJoin(proto string, owned map[string][]int32, topics ...string) JoinRequest {
	md := kmsg.NewConsumerMemberMetadata()
	md.Version, md.Topics, md.Generation = 3, topics, 1
	for tp, ps := range owned {
		o := kmsg.NewConsumerMemberMetadataOwnedPartition()
		o.Topic, o.Partitions = tp, ps
		md.OwnedPartitions = append(md.OwnedPartitions, o)
	}
	r := joinReq("g", "", "", proto)
	r.Protocols[0].Metadata = md.AppendTo(nil)
	return r
}

func decodeAssignment(t *testing.T, b []byte) map[string][]int32 {
	t.Helper()
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		t.Fatalf("decoding assignment %x: %v", b, err)
	}
	out := map[string][]int32{}
	for _, at := range a.Topics {
		out[at.Topic] = at.Partitions
	}
	return out
}

// rebalance joins the requests, syncs everyone (the leader with a junk plan) and returns
// member id → decoded assignment, in join order.
func rebalance(t *testing.T, c *Coordinator, rs ...JoinRequest) ([]string, []map[string][]int32) {
	t.Helper()
	var chs []<-chan JoinResult
	for _, r := range rs {
		chs = append(chs, join(t, c, r))
	}
	var res []JoinResult
	for _, ch := range chs {
		res = append(res, wait(t, ch))
	}
	var ids []string
	var syncs []SyncResult
	for _, r := range res {
		ids = append(ids, r.MemberID)
		junk := map[string][]byte{}
		if r.LeaderID == r.MemberID {
			for _, m := range r.Members {
				junk[m.MemberID] = []byte("leader plan")
			}
		}
		sr, ch := c.Sync("g", r.Generation, r.MemberID, "", "", "", junk)
		if ch != nil {
			sr = wait(t, ch) // the leader syncs first: nobody waits for a later member
		}
		syncs = append(syncs, sr)
	}
	var out []map[string][]int32
	for _, sr := range syncs {
		if sr.Err != nil {
			t.Fatal(sr.Err)
		}
		out = append(out, decodeAssignment(t, sr.Assignment))
	}
	return ids, out
}

func TestBrokerAssignor(t *testing.T) {
	var saved map[string]string
	c := New(Config{MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute, Tick: 5 * time.Millisecond,
		InitialRebalanceDelay: 30 * time.Millisecond,
		Partitions:            func(topic string) int32 { return map[string]int32{"a": 3, "b": 3}[topic] },
		SaveAssignors:         func(m map[string]string) error { saved = m; return nil }})
	t.Cleanup(c.Close)
	if err := c.SetAssignor("g", "bogus"); !errors.Is(err, ErrUnknownAssignor) {
		t.Fatalf("SetAssignor(bogus) = %v", err)
	}
	if err := c.SetAssignor("g", "range"); err != nil || saved["g"] != "range" || c.Assignor("g") != "range" {
		t.Fatalf("SetAssignor(range) = %v, saved %v", err, saved)
	}
	// Eager clients speaking roundrobin get the broker's range layout.
	ids, got := rebalance(t, c, consumerJoin("roundrobin", nil, "a", "b"), consumerJoin("roundrobin", nil, "a", "b"))
	first := 0
	if ids[1] < ids[0] {
		first = 1 // range orders members by id
	}
	if len(got[first]["a"]) != 2 || len(got[first]["b"]) != 2 || len(got[1-first]["a"]) != 1 || len(got[1-first]["b"]) != 1 {
		t.Fatalf("range layout %v (ids %v)", got, ids)
	}
	if d := c.Describe("g"); d.AssignedBy != "range" || d.Protocol != "roundrobin" {
		t.Fatalf("description %+v, want AssignedBy range, protocol roundrobin", d)
	}
}

func TestBrokerAssignorHoldsBackForCooperativeClients(t *testing.T) {
	c := New(Config{MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute, Tick: 5 * time.Millisecond,
		InitialRebalanceDelay: 30 * time.Millisecond, Partitions: func(string) int32 { return 4 }})
	t.Cleanup(c.Close)
	if err := c.SetAssignor("g", "roundrobin"); err != nil {
		t.Fatal(err)
	}
	// One member owned all 4 partitions; a newcomer joins. roundrobin would move two of
	// them at once; cooperative clients get them a round later.
	_, got := rebalance(t, c, consumerJoin("cooperative-sticky", map[string][]int32{"a": {0, 1, 2, 3}}, "a"),
		consumerJoin("cooperative-sticky", nil, "a"))
	if len(got[0]["a"]) != 2 || len(got[1]["a"]) != 0 {
		t.Fatalf("first round %v: want the old owner to keep 2 and the newcomer to wait", got)
	}
}
