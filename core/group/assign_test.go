package group

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/assignor"
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

// flaky is a strategy whose result the test controls.
type flaky struct{ mode *string }

func (flaky) Name() string { return "flaky" }

func (f flaky) Assign(spec assignor.GroupSpec) (assignor.Assignment, error) {
	switch *f.mode {
	case "fail":
		return nil, errors.New("plugin trapped")
	case "empty":
		return assignor.Assignment{}, nil
	}
	return assignor.Range().Assign(spec)
}

// TestBrokerAssignorRefusedKeepsPreviousAssignment: a failing or invalid broker-side plan
// is refused; members keep what they had, newcomers get nothing, the error is described
// until a later assignment succeeds.
func TestBrokerAssignorRefusedKeepsPreviousAssignment(t *testing.T) {
	mode := "ok"
	c := New(Config{MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute, Tick: 5 * time.Millisecond,
		InitialRebalanceDelay: 30 * time.Millisecond, Partitions: func(string) int32 { return 4 },
		Lookup: func(name string) (assignor.Assignor, error) {
			if name == "flaky" {
				return flaky{&mode}, nil
			}
			return builtinStrategy(name)
		}})
	t.Cleanup(c.Close)
	if err := c.SetAssignor("g", "flaky"); err != nil {
		t.Fatal(err)
	}
	ids, first := rebalance(t, c, consumerJoin("range", nil, "a"), consumerJoin("range", nil, "a"))
	if len(first[0]["a"])+len(first[1]["a"]) != 4 {
		t.Fatalf("first plan %v", first)
	}
	// rejoin runs a rebalance of the known members (plus newcomers, whose join starts it)
	// and returns the assignments in member order, newcomers last.
	rejoin := func(newcomers ...JoinRequest) []map[string][]int32 {
		t.Helper()
		var chs []<-chan JoinResult
		for _, r := range newcomers {
			chs = append(chs, join(t, c, r))
		}
		if len(newcomers) == 0 && !c.Rebalance("g") {
			t.Fatal("Rebalance did not start a rebalance")
		}
		var old []<-chan JoinResult
		for _, id := range ids {
			r := consumerJoin("range", nil, "a")
			r.MemberID = id
			old = append(old, join(t, c, r))
		}
		var res []JoinResult
		for _, ch := range append(old, chs...) {
			res = append(res, wait(t, ch))
		}
		syncs := make([]<-chan SyncResult, len(res))
		for _, leaderFirst := range []bool{true, false} {
			for i, r := range res {
				if (r.LeaderID == r.MemberID) != leaderFirst {
					continue
				}
				sr, ch := c.Sync("g", r.Generation, r.MemberID, "", "", "", map[string][]byte{})
				if ch == nil { // answered at once (the leader has synced)
					done := make(chan SyncResult, 1)
					done <- sr
					ch = done
				}
				syncs[i] = ch
			}
		}
		ids = ids[:0]
		var got []map[string][]int32
		for i, ch := range syncs {
			sr := wait(t, ch)
			if sr.Err != nil {
				t.Fatal(sr.Err)
			}
			ids = append(ids, res[i].MemberID)
			got = append(got, decodeAssignment(t, sr.Assignment))
		}
		return got
	}
	for _, m := range []string{"fail", "empty"} {
		mode = m
		got := rejoin()
		if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Fatalf("mode %s: assignment %v, want the previous %v", m, got, first)
		}
		d := c.Describe("g")
		if d.AssignedBy != "flaky" || !strings.Contains(d.AssignError, "flaky: ") {
			t.Fatalf("mode %s: description %+v", m, d)
		}
	}
	if d := c.Describe("g"); !strings.Contains(d.AssignError, "flaky produced an invalid assignment: assignor: subscribed partitions left unassigned") {
		t.Fatalf("empty plan error %q", d.AssignError)
	}
	// A newcomer during the outage gets nothing; the others keep theirs.
	got := rejoin(consumerJoin("range", nil, "a"))
	if len(got) != 3 || fmt.Sprint(got[:2]) != fmt.Sprint(first) || len(got[2]["a"]) != 0 {
		t.Fatalf("with a newcomer: %v", got)
	}
	mode = "ok"
	got = rejoin()
	n := 0
	for _, a := range got {
		n += len(a["a"])
	}
	if n != 4 || c.Describe("g").AssignError != "" {
		t.Fatalf("after recovery: %v, error %q", got, c.Describe("g").AssignError)
	}
}
