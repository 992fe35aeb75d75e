package group

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamd/streamd/assignor"
)

// clock is a settable time source for Coordinator.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// topicSet is the topic catalogue of the test coordinators.
type topicSet struct {
	mu    sync.Mutex
	parts map[string]int32
}

func (ts *topicSet) id(name string) ([16]byte, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if _, ok := ts.parts[name]; !ok {
		return [16]byte{}, false
	}
	var id [16]byte
	copy(id[:], name)
	id[15] = 1
	return id, true
}

func (ts *topicSet) name(id [16]byte) (string, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for n := range ts.parts {
		var want [16]byte
		copy(want[:], n)
		want[15] = 1
		if want == id {
			return n, true
		}
	}
	return "", false
}

func (ts *topicSet) set(name string, n int32) {
	ts.mu.Lock()
	ts.parts[name] = n
	ts.mu.Unlock()
}

func (ts *topicSet) config(cfg Config) Config {
	cfg.Partitions = func(t string) int32 {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ts.parts[t]
	}
	cfg.TopicID, cfg.TopicName = ts.id, ts.name
	cfg.Topics = func() []string {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return slices.Collect(maps.Keys(ts.parts))
	}
	return cfg
}

// consumerCoordinator returns a coordinator whose sweeper never runs on its own (tests
// call expireAll) and whose clock the test moves.
func consumerCoordinator(t *testing.T, topics map[string]int32, tweak ...func(*Config)) (*Coordinator, *clock, *topicSet) {
	ts := &topicSet{parts: topics}
	cfg := ts.config(Config{MinSessionTimeout: time.Millisecond, MaxSessionTimeout: time.Hour, Tick: time.Hour,
		ConsumerSessionTimeout: 10 * time.Second, ConsumerHeartbeatInterval: time.Second})
	for _, f := range tweak {
		f(&cfg)
	}
	c := New(cfg)
	clk := &clock{t: time.Unix(1_000_000, 0)}
	c.now = clk.now
	t.Cleanup(c.Close)
	return c, clk, ts
}

func (c *Coordinator) expireAll() {
	for _, g := range c.snapshot() {
		g.mu.Lock()
		if g.cg != nil {
			c.expireConsumer(g, c.now())
		}
		g.mu.Unlock()
	}
}

func joinHB(member string, topics ...string) HeartbeatRequest {
	return HeartbeatRequest{Group: "g", MemberID: member, MemberEpoch: JoinEpoch, RebalanceTimeout: 5000,
		Topics: topics, Owned: Partitions{}, ClientID: "client-" + member, ClientHost: "/127.0.0.1"}
}

// beatHB is a heartbeat; owned nil is a keepalive that reports nothing.
func beatHB(member string, epoch int32, owned Partitions) HeartbeatRequest {
	return HeartbeatRequest{Group: "g", MemberID: member, MemberEpoch: epoch, RebalanceTimeout: -1, Owned: owned,
		ClientID: "client-" + member, ClientHost: "/127.0.0.1"}
}

func mustBeat(t *testing.T, c *Coordinator, r HeartbeatRequest) HeartbeatResult {
	t.Helper()
	res := c.ConsumerHeartbeat(r)
	if res.Err != nil {
		t.Fatalf("heartbeat %+v: %v", r, res.Err)
	}
	checkOwners(t, c, r.Group)
	return res
}

// converge heartbeats the members ids of group "g", each reporting its current
// assignment, until the group is Stable (at most 10 rounds) and returns its description.
func converge(t *testing.T, c *Coordinator, ids ...string) ConsumerDescription {
	t.Helper()
	for range 10 {
		for _, id := range ids {
			for _, m := range c.ConsumerDescribe("g").Members {
				if m.MemberID == id {
					mustBeat(t, c, beatHB(id, m.Epoch, m.Assigned))
				}
			}
		}
		if d := c.ConsumerDescribe("g"); d.State == "Stable" {
			return d
		}
	}
	t.Fatalf("never stable: %+v", c.ConsumerDescribe("g"))
	return ConsumerDescription{}
}

func wantErr(t *testing.T, res HeartbeatResult, want *kerr.Error) {
	t.Helper()
	if !errors.Is(res.Err, want) {
		t.Fatalf("got %v, want %s", res.Err, want.Message)
	}
}

// checkOwners verifies the coordinator's invariant: no partition is assigned to or being
// revoked by two members, and owners matches the members.
func checkOwners(t *testing.T, c *Coordinator, group string) {
	t.Helper()
	g := c.lock(group, false)
	if g == nil {
		return
	}
	defer g.mu.Unlock()
	if g.cg == nil {
		return
	}
	seen := map[TopicPartition]string{}
	for id, m := range g.cg.members {
		for _, ps := range []Partitions{m.assigned, m.revoking} {
			for tp, parts := range ps {
				for _, p := range parts {
					k := TopicPartition{tp, p}
					if o, dup := seen[k]; dup {
						t.Fatalf("%v held by %s and %s", k, o, id)
					}
					seen[k] = id
					if g.cg.owners[k] != id {
						t.Fatalf("owners[%v] = %q, want %q", k, g.cg.owners[k], id)
					}
				}
			}
		}
	}
	if len(seen) != len(g.cg.owners) {
		t.Fatalf("owners has %d partitions, members hold %d", len(g.cg.owners), len(seen))
	}
}

func ps(topic string, parts ...int32) Partitions { return Partitions{topic: parts} }

func TestConsumerJoinRevokeAssign(t *testing.T) {
	c, _, _ := consumerCoordinator(t, map[string]int32{"t": 4})
	a := mustBeat(t, c, joinHB("a", "t"))
	if a.MemberEpoch != 1 || !equalPartitions(a.Assignment, ps("t", 0, 1, 2, 3)) {
		t.Fatalf("first member: epoch %d assignment %v", a.MemberEpoch, a.Assignment)
	}
	if d := c.ConsumerDescribe("g"); d.State != "Stable" || d.Epoch != 1 || d.AssignmentEpoch != 1 || d.Assignor != "uniform" {
		t.Fatalf("described %+v", d)
	}
	// b joins: the target gives it two partitions, which a still holds.
	b := mustBeat(t, c, joinHB("b", "t"))
	if b.MemberEpoch != 2 || b.Assignment == nil || len(b.Assignment) != 0 {
		t.Fatalf("second member: epoch %d assignment %v (its partitions are still a's)", b.MemberEpoch, b.Assignment)
	}
	if d := c.ConsumerDescribe("g"); d.State != "Reconciling" || d.Epoch != 2 {
		t.Fatalf("described %+v", d)
	}
	// a's keepalive: it must revoke two partitions and stays at epoch 1.
	a = mustBeat(t, c, beatHB("a", 1, nil))
	if a.MemberEpoch != 1 || a.Assignment.count() != 2 {
		t.Fatalf("a while revoking: epoch %d assignment %v", a.MemberEpoch, a.Assignment)
	}
	kept := a.Assignment
	// Still owning everything, a cannot move on; b gets nothing.
	if a = mustBeat(t, c, beatHB("a", 1, ps("t", 0, 1, 2, 3))); a.MemberEpoch != 1 {
		t.Fatalf("a moved on without revoking: %+v", a)
	}
	if b = mustBeat(t, c, beatHB("b", 2, Partitions{})); b.Assignment.count() != 0 {
		t.Fatalf("b got %v before a revoked", b.Assignment)
	}
	// a acknowledges: epoch 2; then b gets the released partitions.
	if a = mustBeat(t, c, beatHB("a", 1, kept)); a.MemberEpoch != 2 || !equalPartitions(a.Assignment, kept) {
		t.Fatalf("a after revoking: %+v", a)
	}
	b = mustBeat(t, c, beatHB("b", 2, nil))
	if b.MemberEpoch != 2 || b.Assignment.count() != 2 {
		t.Fatalf("b after a revoked: %+v", b)
	}
	if d := c.ConsumerDescribe("g"); d.State != "Stable" {
		t.Fatalf("described %+v", d)
	}
	// a keepalive of a reconciled member carries no assignment.
	if a = mustBeat(t, c, beatHB("a", 2, nil)); a.Assignment != nil {
		t.Fatalf("keepalive answered with an assignment: %+v", a)
	}
	// b leaves: a gets everything at epoch 3.
	if r := mustBeat(t, c, beatHB("b", LeaveEpoch, nil)); r.MemberEpoch != LeaveEpoch {
		t.Fatalf("leave answered %+v", r)
	}
	if a = mustBeat(t, c, beatHB("a", 2, nil)); a.MemberEpoch != 3 || a.Assignment.count() != 4 {
		t.Fatalf("a after b left: %+v", a)
	}
}

func TestConsumerEpochChecks(t *testing.T) {
	c, _, _ := consumerCoordinator(t, map[string]int32{"t": 2})
	mustBeat(t, c, joinHB("a", "t"))
	wantErr(t, c.ConsumerHeartbeat(beatHB("a", 5, nil)), kerr.FencedMemberEpoch)
	wantErr(t, c.ConsumerHeartbeat(beatHB("nobody", 1, nil)), kerr.UnknownMemberID)
	wantErr(t, c.ConsumerHeartbeat(HeartbeatRequest{Group: "other", MemberID: "x", MemberEpoch: 3, RebalanceTimeout: -1}), kerr.GroupIDNotFound)
	mustBeat(t, c, joinHB("b", "t")) // epoch 2: a must give up one partition
	a := mustBeat(t, c, beatHB("a", 1, nil))
	mustBeat(t, c, beatHB("a", 1, a.Assignment)) // a at epoch 2, previous 1
	// The previous epoch is accepted with a subset of the assignment (a lost response)...
	if r := mustBeat(t, c, beatHB("a", 1, a.Assignment)); r.MemberEpoch != 2 {
		t.Fatalf("previous epoch: %+v", r)
	}
	// ...but not without owned partitions, nor with partitions not assigned.
	wantErr(t, c.ConsumerHeartbeat(beatHB("a", 1, nil)), kerr.FencedMemberEpoch)
	wantErr(t, c.ConsumerHeartbeat(beatHB("a", 1, ps("t", 0, 1))), kerr.FencedMemberEpoch)
	// Epoch 0 from a known member rejoins it in place with its assignment.
	r := mustBeat(t, c, joinHB("a", "t"))
	if r.MemberEpoch != 2 || !equalPartitions(r.Assignment, a.Assignment) {
		t.Fatalf("rejoin in place: %+v, assignment before %v", r, a.Assignment)
	}
	if d := c.ConsumerDescribe("g"); d.Epoch != 2 {
		t.Fatalf("a rejoin in place bumped the group epoch: %+v", d)
	}
}

func TestConsumerRequestValidation(t *testing.T) {
	c, _, _ := consumerCoordinator(t, map[string]int32{"t": 1})
	empty := ""
	bad := "("
	rangeName, nope := "range", "fastest"
	for _, tc := range []struct {
		name string
		r    HeartbeatRequest
		want *kerr.Error
	}{
		{"no group", HeartbeatRequest{MemberID: "a", RebalanceTimeout: 1, Topics: []string{"t"}, Owned: Partitions{}}, kerr.InvalidRequest},
		{"no member id (v1)", HeartbeatRequest{Group: "g", RebalanceTimeout: 1, Topics: []string{"t"}, Owned: Partitions{}}, kerr.InvalidRequest},
		{"empty instance id", func() HeartbeatRequest { r := joinHB("a", "t"); r.InstanceID = &empty; return r }(), kerr.InvalidRequest},
		{"no rebalance timeout", func() HeartbeatRequest { r := joinHB("a", "t"); r.RebalanceTimeout = -1; return r }(), kerr.InvalidRequest},
		{"owned on join", func() HeartbeatRequest { r := joinHB("a", "t"); r.Owned = ps("t", 0); return r }(), kerr.InvalidRequest},
		{"null owned on join", func() HeartbeatRequest { r := joinHB("a", "t"); r.Owned = nil; return r }(), kerr.InvalidRequest},
		{"no subscription", joinHB("a"), kerr.InvalidRequest},
		{"epoch below -2", beatHB("a", -3, nil), kerr.InvalidRequest},
		{"unknown assignor", func() HeartbeatRequest { r := joinHB("a", "t"); r.ServerAssignor = &nope; return r }(), kerr.UnsupportedAssignor},
		{"bad regex", func() HeartbeatRequest { r := joinHB("a"); r.Regex = &bad; return r }(), kerr.InvalidRegularExpression},
	} {
		res := c.ConsumerHeartbeat(tc.r)
		var ge *Error
		if !errors.Is(res.Err, tc.want) || !errors.As(res.Err, &ge) || ge.Msg == "" {
			t.Errorf("%s: got %v, want %s with a message", tc.name, res.Err, tc.want.Message)
		}
	}
	if len(c.List()) != 0 {
		t.Fatalf("invalid requests created groups: %v", c.List())
	}
	// Version 0: the coordinator chooses the member id.
	r := joinHB("", "t")
	r.GenerateID, r.ServerAssignor = true, &rangeName
	res := mustBeat(t, c, r)
	if res.MemberID == "" || res.MemberEpoch != 1 {
		t.Fatalf("v0 join: %+v", res)
	}
	if d := c.ConsumerDescribe("g"); d.Assignor != "range" {
		t.Fatalf("assignor %q, want the member's range", d.Assignor)
	}
}

func TestConsumerStaticMember(t *testing.T) {
	c, clk, _ := consumerCoordinator(t, map[string]int32{"t": 4})
	static := func(r HeartbeatRequest, inst string) HeartbeatRequest { r.InstanceID = &inst; return r }
	a := mustBeat(t, c, static(joinHB("a1", "t"), "A"))
	b := mustBeat(t, c, joinHB("b", "t"))
	a = mustBeat(t, c, beatHB("a1", a.MemberEpoch, nil))
	a = mustBeat(t, c, beatHB("a1", a.MemberEpoch, a.Assignment))
	b = mustBeat(t, c, beatHB("b", b.MemberEpoch, Partitions{}))
	epoch := c.ConsumerDescribe("g").Epoch
	if a.Assignment.count() != 2 || b.Assignment.count() != 2 {
		t.Fatalf("a %v b %v", a.Assignment, b.Assignment)
	}
	// A second live member with the same instance id is refused.
	wantErr(t, c.ConsumerHeartbeat(static(joinHB("a2", "t"), "A")), kerr.UnreleasedInstanceID)
	wantErr(t, c.ConsumerHeartbeat(static(beatHB("a2", a.MemberEpoch, nil), "A")), kerr.FencedInstanceID)
	// The static member leaves temporarily: no new epoch, its partitions stay reserved.
	if r := mustBeat(t, c, static(beatHB("a1", StaticLeaveEpoch, nil), "A")); r.MemberEpoch != StaticLeaveEpoch {
		t.Fatalf("static leave: %+v", r)
	}
	if d := c.ConsumerDescribe("g"); d.Epoch != epoch {
		t.Fatalf("static leave bumped the epoch: %+v", d)
	}
	if r := mustBeat(t, c, beatHB("b", b.MemberEpoch, nil)); r.Assignment != nil {
		t.Fatalf("b got %v while A is away", r.Assignment)
	}
	// It restarts with a new member id and gets its partitions back, same epoch.
	a2 := mustBeat(t, c, static(joinHB("a2", "t"), "A"))
	if !equalPartitions(a2.Assignment, a.Assignment) || a2.MemberEpoch != epoch {
		t.Fatalf("restarted static member: %+v, before %v at epoch %d", a2, a.Assignment, epoch)
	}
	if d := c.ConsumerDescribe("g"); d.Epoch != epoch || len(d.Members) != 2 {
		t.Fatalf("after the static restart: %+v", d)
	}
	wantErr(t, c.ConsumerHeartbeat(beatHB("a1", a.MemberEpoch, nil)), kerr.UnknownMemberID)
	// Away longer than the session timeout, a static member is removed.
	mustBeat(t, c, static(beatHB("a2", StaticLeaveEpoch, nil), "A"))
	clk.add(5 * time.Second)
	mustBeat(t, c, beatHB("b", b.MemberEpoch, nil))
	clk.add(6 * time.Second)
	c.expireAll()
	if d := c.ConsumerDescribe("g"); len(d.Members) != 1 || d.Epoch != epoch+1 {
		t.Fatalf("after A's session expired: %+v", d)
	}
}

func TestConsumerTimeouts(t *testing.T) {
	c, clk, _ := consumerCoordinator(t, map[string]int32{"t": 2})
	a := mustBeat(t, c, joinHB("a", "t"))
	b := mustBeat(t, c, joinHB("b", "t"))
	// a must revoke one partition; it keeps heartbeating without acknowledging.
	a = mustBeat(t, c, beatHB("a", a.MemberEpoch, nil))
	for range 4 {
		clk.add(time.Second)
		mustBeat(t, c, beatHB("a", a.MemberEpoch, nil))
		mustBeat(t, c, beatHB("b", b.MemberEpoch, nil))
		c.expireAll()
	}
	if d := c.ConsumerDescribe("g"); len(d.Members) != 2 {
		t.Fatalf("a fenced before its rebalance timeout: %+v", d)
	}
	clk.add(time.Second)
	mustBeat(t, c, beatHB("b", b.MemberEpoch, nil))
	c.expireAll()
	if d := c.ConsumerDescribe("g"); len(d.Members) != 1 || d.Members[0].MemberID != "b" {
		t.Fatalf("a not fenced after its 5s rebalance timeout: %+v", d)
	}
	wantErr(t, c.ConsumerHeartbeat(beatHB("a", a.MemberEpoch, nil)), kerr.UnknownMemberID)
	if r := mustBeat(t, c, beatHB("b", b.MemberEpoch, nil)); r.Assignment.count() != 2 {
		t.Fatalf("b after a was fenced: %+v", r)
	}
	// A member that stops heartbeating is removed after the session timeout.
	clk.add(11 * time.Second)
	c.expireAll()
	if d := c.ConsumerDescribe("g"); d.State != "Empty" {
		t.Fatalf("after b's session expired: %+v", d)
	}
}

// fixedAssignor gives every partition to the member with the smallest id.
type fixedAssignor struct{}

func (fixedAssignor) Name() string { return "all-to-first" }
func (fixedAssignor) Assign(spec assignor.GroupSpec) (assignor.Assignment, error) {
	out := assignor.Assignment{}
	first := ""
	for _, m := range spec.Members {
		out[m.ID] = nil
		if first == "" || m.ID < first {
			first = m.ID
		}
	}
	for _, m := range spec.Members {
		if m.ID != first {
			continue
		}
		for _, tp := range m.Topics {
			for p := range spec.Partitions[tp] {
				out[first] = append(out[first], assignor.TopicPartition{Topic: tp, Partition: p})
			}
		}
	}
	return out, nil
}

func TestConsumerGroupAssignor(t *testing.T) {
	c, _, _ := consumerCoordinator(t, map[string]int32{"t": 4}, func(cfg *Config) {
		cfg.Lookup = func(name string) (assignor.Assignor, error) {
			if name == "wasm:first" {
				return fixedAssignor{}, nil
			}
			return builtinStrategy(name)
		}
	})
	rangeName := "range"
	ra := joinHB("a", "t")
	ra.ServerAssignor = &rangeName
	mustBeat(t, c, ra)
	mustBeat(t, c, joinHB("b", "t"))
	if d := c.ConsumerDescribe("g"); d.Assignor != "range" {
		t.Fatalf("assignor %q, want range (a's choice)", d.Assignor)
	}
	converge(t, c, "a", "b")
	before := c.ConsumerDescribe("g").Epoch
	if err := c.SetAssignor("g", "wasm:first"); err != nil {
		t.Fatal(err)
	}
	if d := c.ConsumerDescribe("g"); d.Epoch != before+1 || d.State != "Assigning" {
		t.Fatalf("after SetAssignor: %+v", d)
	}
	d := converge(t, c, "a", "b")
	if d.Assignor != "wasm:first" || d.Members[0].Assigned.count() != 4 || d.Members[1].Assigned.count() != 0 {
		t.Fatalf("with the group's assignor: %+v", d)
	}
	if err := c.SetAssignor("g", ""); err != nil {
		t.Fatal(err)
	}
	if d := converge(t, c, "a", "b"); d.Assignor != "range" || d.Members[0].Assigned.count() != 2 {
		t.Fatalf("back to the members' assignor: %+v", d)
	}
}

// failingAssignor fails every assignment.
type failingAssignor struct{}

func (failingAssignor) Name() string { return "wasm:broken" }
func (failingAssignor) Assign(assignor.GroupSpec) (assignor.Assignment, error) {
	return nil, errors.New("plugin trapped")
}

// TestConsumerRefusedAssignment: a failing group.assignor is refused like for classic
// groups: members keep their targets, a newcomer gets nothing, the error is described,
// and the next successful assignment clears it.
func TestConsumerRefusedAssignment(t *testing.T) {
	c, _, _ := consumerCoordinator(t, map[string]int32{"t": 4}, func(cfg *Config) {
		cfg.Lookup = func(name string) (assignor.Assignor, error) {
			if name == "wasm:broken" {
				return failingAssignor{}, nil
			}
			return builtinStrategy(name)
		}
	})
	mustBeat(t, c, joinHB("a", "t"))
	mustBeat(t, c, joinHB("b", "t"))
	before := converge(t, c, "a", "b")
	if before.AssignError != "" {
		t.Fatalf("error before the broken assignor: %q", before.AssignError)
	}
	if err := c.SetAssignor("g", "wasm:broken"); err != nil {
		t.Fatal(err)
	}
	mustBeat(t, c, joinHB("c", "t"))
	d := converge(t, c, "a", "b", "c")
	if !strings.Contains(d.AssignError, "wasm:broken: plugin trapped") {
		t.Fatalf("assign error %q", d.AssignError)
	}
	counts := map[string]int{}
	for _, m := range d.Members {
		counts[m.MemberID] = m.Assigned.count()
	}
	if counts["a"] != 2 || counts["b"] != 2 || counts["c"] != 0 {
		t.Fatalf("assignment after the refusal: %v, want a and b keeping 2 each, c none", counts)
	}
	if err := c.SetAssignor("g", "range"); err != nil {
		t.Fatal(err)
	}
	d = converge(t, c, "a", "b", "c")
	total := 0
	for _, m := range d.Members {
		total += m.Assigned.count()
	}
	if d.AssignError != "" || d.Assignor != "range" || total != 4 {
		t.Fatalf("after a working assignor: %+v", d)
	}
}

func TestConsumerRegexAndTopicChanges(t *testing.T) {
	c, _, ts := consumerCoordinator(t, map[string]int32{"orders-eu": 2, "orders-us": 1, "other": 3})
	re := "orders-.*"
	r := joinHB("a")
	r.Regex = &re
	res := mustBeat(t, c, r)
	if !equalPartitions(res.Assignment, Partitions{"orders-eu": {0, 1}, "orders-us": {0}}) {
		t.Fatalf("regex assignment %v", res.Assignment)
	}
	// A new matching topic and more partitions: picked up after TopicsChanged.
	ts.set("orders-ap", 1)
	ts.set("orders-us", 2)
	c.TopicsChanged()
	res = mustBeat(t, c, beatHB("a", res.MemberEpoch, nil))
	want := Partitions{"orders-ap": {0}, "orders-eu": {0, 1}, "orders-us": {0, 1}}
	if res.MemberEpoch != 2 || !equalPartitions(res.Assignment, want) {
		t.Fatalf("after topic changes: %+v, want %v at epoch 2", res, want)
	}
	// Nothing changed: no new epoch.
	c.TopicsChanged()
	if res = mustBeat(t, c, beatHB("a", 2, nil)); res.MemberEpoch != 2 {
		t.Fatalf("epoch bumped without a change: %+v", res)
	}
}

func TestConsumerAndClassicDoNotMix(t *testing.T) {
	c, _, _ := consumerCoordinator(t, map[string]int32{"t": 1})
	// A classic group with a member: not a consumer group.
	wait(t, join(t, c, joinReq("classic", "", "", "range")))
	r := joinHB("a", "t")
	r.Group = "classic"
	wantErr(t, c.ConsumerHeartbeat(r), kerr.GroupIDNotFound)
	// A consumer group with a member refuses classic joins.
	mustBeat(t, c, joinHB("a", "t"))
	jr := joinReq("g", "", "", "range")
	jr.RequireKnownMember = false
	if res, _ := c.Join(jr); !errors.Is(res.Err, kerr.InconsistentGroupProtocol) {
		t.Fatalf("classic join of a consumer group: %v", res.Err)
	}
	if d := c.Describe("g"); d.State != Dead {
		t.Fatalf("DescribeGroups of a consumer group: %v, want Dead", d.State)
	}
	// Empty groups are converted, keeping their offsets.
	c.Commit("offsets-only", map[TopicPartition]Offset{{"t", 0}: {Offset: 7}})
	r.Group = "offsets-only"
	mustBeat(t, c, r)
	if l := c.List(); len(l) != 3 || l[2].Group != "offsets-only" || l[2].Type != "consumer" || l[2].State != "Stable" {
		t.Fatalf("listed %+v", l)
	}
	mustBeat(t, c, beatHB("a", LeaveEpoch, nil)) // group g is empty now
	if res := wait(t, join(t, c, joinReq("g", "", "", "range"))); res.Err != nil {
		t.Fatalf("classic join of an empty consumer group: %v", res.Err)
	}
	if got := c.FetchOffsets("offsets-only", nil); len(got) != 1 || got[0].Offset.Offset != 7 {
		t.Fatalf("offsets after conversion %+v", got)
	}
}

func TestConsumerCommitAndFetchChecks(t *testing.T) {
	c, _, _ := consumerCoordinator(t, map[string]int32{"t": 2})
	a := mustBeat(t, c, joinHB("a", "t"))
	t0, t1 := TopicPartition{"t", 0}, TopicPartition{"t", 1}
	all := []TopicPartition{t0, t1}
	if _, err := c.ValidateCommit("g", 9, a.MemberEpoch, "a", "", all); err != nil {
		t.Fatalf("commit at the current epoch: %v", err)
	}
	for _, tc := range []struct {
		version int16
		gen     int32
		member  string
		want    *kerr.Error
	}{
		{9, a.MemberEpoch + 1, "a", kerr.StaleMemberEpoch},
		{8, a.MemberEpoch, "a", kerr.UnsupportedVersion},
		{9, a.MemberEpoch, "x", kerr.UnknownMemberID},
		{9, -1, "", kerr.UnknownMemberID}, // an admin commit while the group has members
	} {
		if _, err := c.ValidateCommit("g", tc.version, tc.gen, tc.member, "", all); !errors.Is(err, tc.want) {
			t.Errorf("commit v%d gen %d member %q: %v, want %s", tc.version, tc.gen, tc.member, err, tc.want.Message)
		}
	}
	// b joins; a gives up t/1 and moves to epoch 2, keeping t/0 held since epoch 1.
	mustBeat(t, c, joinHB("b", "t"))
	a = mustBeat(t, c, beatHB("a", 1, nil))
	a = mustBeat(t, c, beatHB("a", 1, a.Assignment))
	held := a.Assignment["t"][0]
	other := TopicPartition{"t", 1 - held}
	stale, err := c.ValidateCommit("g", 9, 1, "a", "", all)
	if err != nil || stale[TopicPartition{"t", held}] != nil || !errors.Is(stale[other], kerr.StaleMemberEpoch) {
		t.Fatalf("commit at the previous epoch: %v %v (held t/%d)", stale, err, held)
	}
	if err := c.ValidateFetch("g", nil, -1); err != nil {
		t.Fatalf("admin fetch: %v", err)
	}
	id := "a"
	if err := c.ValidateFetch("g", &id, 1); !errors.Is(err, kerr.StaleMemberEpoch) {
		t.Fatalf("fetch with a stale epoch: %v", err)
	}
	if err := c.ValidateFetch("g", &id, 2); err != nil {
		t.Fatalf("fetch at the current epoch: %v", err)
	}
	// Subscribed topics cannot lose their offsets; the group cannot be deleted.
	c.Commit("g", map[TopicPartition]Offset{t0: {Offset: 1}})
	res, _ := c.DeleteOffsets("g", []TopicPartition{t0}, nil)
	if !errors.Is(res[t0], kerr.GroupSubscribedToTopic) {
		t.Fatalf("offset delete of a subscribed topic: %v", res[t0])
	}
	if _, err := c.Delete("g"); !errors.Is(err, kerr.NonEmptyGroup) {
		t.Fatalf("delete of a group with members: %v", err)
	}
}
