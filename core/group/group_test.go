package group

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func testCoordinator(t *testing.T) *Coordinator {
	c := New(Config{MinSessionTimeout: 10 * time.Millisecond, MaxSessionTimeout: time.Minute,
		InitialRebalanceDelay: 30 * time.Millisecond, Tick: 5 * time.Millisecond})
	t.Cleanup(c.Close)
	return c
}

func joinReq(group, id, instance string, protos ...string) JoinRequest {
	r := JoinRequest{Group: group, MemberID: id, InstanceID: instance, ClientID: "c", ProtocolType: "consumer",
		SessionTimeout: time.Second, RebalanceTimeout: 300 * time.Millisecond, RequireKnownMember: true}
	for _, p := range protos {
		r.Protocols = append(r.Protocols, Protocol{Name: p, Metadata: []byte(p)})
	}
	return r
}

func wait[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(3 * time.Second):
		t.Fatal("no answer")
		panic("unreachable")
	}
}

// join performs the MEMBER_ID_REQUIRED round trip and returns the pending answer.
func join(t *testing.T, c *Coordinator, r JoinRequest) <-chan JoinResult {
	t.Helper()
	res, ch := c.Join(r)
	if errors.Is(res.Err, kerr.MemberIDRequired) {
		r.MemberID = res.MemberID
		res, ch = c.Join(r)
	}
	if ch == nil {
		t.Fatalf("join answered at once: %+v", res)
	}
	return ch
}

func state(c *Coordinator, g string) State { return c.Describe(g).State }

func TestRebalanceLifecycle(t *testing.T) {
	c := testCoordinator(t)
	r1 := joinReq("g", "", "", "range", "roundrobin")
	res, _ := c.Join(r1)
	if !errors.Is(res.Err, kerr.MemberIDRequired) || res.MemberID == "" {
		t.Fatalf("first join: %+v, want MEMBER_ID_REQUIRED with an id", res)
	}
	ch1 := join(t, c, r1)
	ch2 := join(t, c, joinReq("g", "", "", "roundrobin", "range"))
	ch3 := join(t, c, joinReq("g", "", "", "roundrobin"))
	a, b, d := wait(t, ch1), wait(t, ch2), wait(t, ch3)
	if a.Err != nil || b.Err != nil || d.Err != nil {
		t.Fatalf("join errors %v %v %v", a.Err, b.Err, d.Err)
	}
	// roundrobin is the only protocol all support; leader = first joiner.
	if a.Protocol != "roundrobin" || a.LeaderID != a.MemberID || len(a.Members) != 3 || len(b.Members) != 0 || a.Generation != 1 {
		t.Fatalf("leader answer %+v", a)
	}
	if state(c, "g") != CompletingRebalance {
		t.Fatalf("state %v", state(c, "g"))
	}
	sres, sch := c.Sync("g", 1, b.MemberID, "", "", "", nil)
	if sch == nil {
		t.Fatalf("follower sync answered before the leader: %+v", sres)
	}
	if _, lch := c.Sync("g", 1, a.MemberID, "", "consumer", "roundrobin", map[string][]byte{a.MemberID: []byte("A"), b.MemberID: []byte("B")}); string(wait(t, lch).Assignment) != "A" {
		t.Fatal("leader assignment")
	}
	if got := wait(t, sch); string(got.Assignment) != "B" {
		t.Fatalf("follower got %q", got.Assignment)
	}
	if r, _ := c.Sync("g", 1, d.MemberID, "", "", "", nil); r.Err != nil || len(r.Assignment) != 0 {
		t.Fatalf("late sync in Stable: %+v", r)
	}
	if state(c, "g") != Stable {
		t.Fatalf("state %v", state(c, "g"))
	}
	if err := c.Heartbeat("g", 0, a.MemberID, ""); !errors.Is(err, kerr.IllegalGeneration) {
		t.Errorf("stale heartbeat: %v", err)
	}
	if err := c.Heartbeat("g", 1, "x", ""); !errors.Is(err, kerr.UnknownMemberID) {
		t.Errorf("unknown heartbeat: %v", err)
	}
	// A leave triggers a rebalance the others learn of by heartbeat.
	if errs := c.Leave("g", []Leaver{{MemberID: d.MemberID}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if err := c.Heartbeat("g", 1, a.MemberID, ""); !errors.Is(err, kerr.RebalanceInProgress) {
		t.Fatalf("heartbeat after leave: %v", err)
	}
	r := joinReq("g", a.MemberID, "", "range", "roundrobin")
	_, ch1 = c.Join(r)
	// b never rejoins: it is removed when the rebalance timeout passes.
	got := wait(t, ch1)
	if got.Generation != 2 || len(got.Members) != 1 || got.Protocol != "range" {
		t.Fatalf("second generation %+v", got)
	}
	if err := c.Heartbeat("g", 2, b.MemberID, ""); !errors.Is(err, kerr.UnknownMemberID) {
		t.Errorf("member that did not rejoin: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	c := testCoordinator(t)
	r := joinReq("g", "", "", "range")
	r.SessionTimeout = 50 * time.Millisecond
	res := wait(t, join(t, c, r))
	if _, ch := c.Sync("g", res.Generation, res.MemberID, "", "", "", map[string][]byte{res.MemberID: {1}}); wait(t, ch).Err != nil {
		t.Fatal("sync")
	}
	time.Sleep(150 * time.Millisecond)
	if d := c.Describe("g"); d.State != Empty || len(d.Members) != 0 {
		t.Fatalf("after session timeout: %+v", d)
	}
}

func TestStaticMembers(t *testing.T) {
	c := testCoordinator(t)
	a := wait(t, join(t, c, joinReq("g", "", "ia", "range")))
	if _, ch := c.Sync("g", a.Generation, a.MemberID, "ia", "", "", map[string][]byte{a.MemberID: []byte("A")}); wait(t, ch).Err != nil {
		t.Fatal("sync")
	}
	res, ch := c.Join(joinReq("g", "", "ia", "range"))
	if ch != nil || res.Err != nil || res.MemberID == a.MemberID || res.Generation != a.Generation || !res.SkipAssignment {
		t.Fatalf("static rejoin: %+v (pending %v)", res, ch != nil)
	}
	if s, _ := c.Sync("g", res.Generation, res.MemberID, "ia", "", "", nil); string(s.Assignment) != "A" {
		t.Fatalf("static rejoin assignment %q", s.Assignment)
	}
	if err := c.Heartbeat("g", a.Generation, a.MemberID, "ia"); !errors.Is(err, kerr.FencedInstanceID) {
		t.Fatalf("old member heartbeat: %v", err)
	}
	if errs := c.Leave("g", []Leaver{{MemberID: a.MemberID, InstanceID: "ia"}, {InstanceID: "ia"}}); !errors.Is(errs[0], kerr.FencedInstanceID) || errs[1] != nil {
		t.Fatalf("leave: %v", errs)
	}
	if state(c, "g") != Empty {
		t.Fatalf("state after leave %v", state(c, "g"))
	}
}

func TestJoinValidation(t *testing.T) {
	c := testCoordinator(t)
	r := joinReq("g", "", "", "range")
	r.SessionTimeout = time.Millisecond
	if res, _ := c.Join(r); !errors.Is(res.Err, kerr.InvalidSessionTimeout) {
		t.Errorf("short session: %v", res.Err)
	}
	if res, _ := c.Join(joinReq("nope", "someone", "", "range")); !errors.Is(res.Err, kerr.UnknownMemberID) {
		t.Errorf("unknown member of unknown group: %v", res.Err)
	}
	wait(t, join(t, c, joinReq("g", "", "", "range")))
	other := joinReq("g", "", "", "sticky")
	if res, _ := c.Join(other); !errors.Is(res.Err, kerr.InconsistentGroupProtocol) {
		t.Errorf("no common protocol: %v", res.Err)
	}
	if _, err := c.Delete("g"); !errors.Is(err, kerr.NonEmptyGroup) {
		t.Errorf("delete non-empty: %v", err)
	}
}

func TestOffsets(t *testing.T) {
	c := testCoordinator(t)
	if _, err := c.ValidateCommit("simple", 9, -1, "", "", nil); err != nil {
		t.Fatal(err)
	}
	tp := TopicPartition{"t", 3}
	o := Offset{Offset: 42, LeaderEpoch: 7, Metadata: "m", CommitTime: 1000}
	if err := c.Load(OffsetKey("simple", tp), OffsetValue(o)); err != nil {
		t.Fatal(err)
	}
	got := c.FetchOffsets("simple", []TopicPartition{tp, {"t", 4}})
	if got[0].Offset != o || got[1].Offset.Offset != -1 {
		t.Fatalf("fetched %+v", got)
	}
	if err := c.Load(OffsetKey("simple", tp), nil); err != nil {
		t.Fatal(err)
	}
	if got := c.FetchOffsets("simple", nil); len(got) != 0 {
		t.Fatalf("after tombstone %+v", got)
	}
	if _, err := c.ValidateCommit("simple", 9, 3, "x", "", nil); !errors.Is(err, kerr.UnknownMemberID) {
		t.Errorf("commit with a generation to an empty group: %v", err)
	}
}

// TestPartitionFor checks Kafka's abs(String.hashCode) % n against values computed with
// Java.
func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		group string
		want  int32
	}{
		{"", 0},
		{"a", 47},                  // "a".hashCode() = 97
		{"my-group", 12},           // hashCode -1906497762
		{"console-consumer-1", 24}, // hashCode 35782224
		{"polygenelubricants", 0},  // hashCode = Integer.MIN_VALUE: Kafka's abs maps it to 0
	} {
		if got := PartitionFor(tc.group, 50); got != tc.want {
			t.Errorf("PartitionFor(%q) = %d, want %d", tc.group, got, tc.want)
		}
	}
}

func TestExpireOffsets(t *testing.T) {
	c := testCoordinator(t)
	now := time.Now()
	old := Offset{Offset: 1, CommitTime: now.Add(-2 * time.Hour).UnixMilli()}
	fresh := Offset{Offset: 2, CommitTime: now.UnixMilli()}
	c.Commit("standalone", map[TopicPartition]Offset{{"t", 0}: old, {"t", 1}: fresh})
	c.Commit("gone", map[TopicPartition]Offset{{"t", 0}: old})
	// A group with a live member keeps even old offsets.
	m := wait(t, join(t, c, joinReq("live", "", "", "range")))
	c.Commit("live", map[TopicPartition]Offset{{"t", 0}: old})

	got := c.ExpireOffsets(now, time.Hour)
	if len(got) != 2 || len(got["standalone"]) != 1 || got["standalone"][0] != (TopicPartition{"t", 0}) || len(got["gone"]) != 1 {
		t.Fatalf("expired %v", got)
	}
	var names []string
	for _, l := range c.List() {
		names = append(names, l.Group)
	}
	if strings.Join(names, ",") != "live,standalone" {
		t.Fatalf("groups after expiry %v (a group without offsets or members is removed)", names)
	}
	// Once the member leaves, retention counts from the moment the group became Empty.
	c.Leave("live", []Leaver{{MemberID: m.MemberID}})
	if got := c.ExpireOffsets(now.Add(30*time.Minute), time.Hour); len(got["live"]) != 0 {
		t.Fatalf("expired right after the group emptied: %v", got)
	}
	if got := c.ExpireOffsets(now.Add(2*time.Hour), time.Hour); len(got["live"]) != 1 {
		t.Fatalf("not expired an hour after the group emptied: %v", got)
	}
}
