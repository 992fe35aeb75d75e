package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// groupConfig makes rebalances fast enough for tests.
func groupConfig(c *config.Config) {
	c.GroupInitialRebalanceDelayMs = 100
	c.GroupMinSessionTimeoutMs = 100
	c.OffsetsTopicNumPartitions = 5
}

// member is a kgo group consumer whose records are collected by a polling goroutine.
type member struct {
	cl   *kgo.Client
	mu   sync.Mutex
	seen map[string]int // value → count
	done chan struct{}
	asg  int // OnPartitionsAssigned calls
}

func startMember(t *testing.T, addr, grp, topic string, opts ...kgo.Opt) *member {
	t.Helper()
	m := &member{seen: map[string]int{}, done: make(chan struct{})}
	base := []kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.HeartbeatInterval(100 * time.Millisecond), kgo.SessionTimeout(3 * time.Second),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			m.mu.Lock()
			m.asg++
			m.mu.Unlock()
		}),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	go func() {
		defer close(m.done)
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			m.mu.Lock()
			for _, r := range fs.Records() {
				m.seen[string(r.Value)]++
			}
			m.mu.Unlock()
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *member) close() {
	m.cl.Close()
	<-m.done
}

func (m *member) assignedCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.asg
}

// count is how many times the member consumed value v.
func (m *member) count(v string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[v]
}

// produceValues writes n records, record i to partition i % parts.
func produceValues(t *testing.T, addr, topic, prefix string, n, parts int) []string {
	t.Helper()
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
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

// produceInBackground produces one record every few milliseconds to topic, value
// "load-i" to partition i % parts, until the returned stop is called; stop returns the
// values produced.
func produceInBackground(t *testing.T, addr, topic string, parts int) (stop func() []string) {
	var (
		produced []string
		stopped  atomic.Bool
		wg       sync.WaitGroup
	)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stopped.Load(); i++ {
			v := fmt.Sprintf("load-%d", i)
			r := &kgo.Record{Topic: topic, Value: []byte(v), Partition: int32(i % parts)}
			if err := cl.ProduceSync(ctxT(t, 10*time.Second), r).FirstErr(); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			produced = append(produced, v)
			time.Sleep(3 * time.Millisecond)
		}
	}()
	stop = func() []string {
		stopped.Store(true)
		wg.Wait()
		return produced
	}
	t.Cleanup(func() { stop() }) // before the client closes, if the test ends early
	return stop
}

// waitAllSeen waits until count(v) > 0 for every value of vals; after within it fails
// with "N of M records " + missing.
func waitAllSeen(t *testing.T, within time.Duration, vals []string, missing string, count func(v string) int) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := 0
		for _, v := range vals {
			if count(v) == 0 {
				n++
			}
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records %s", n, len(vals), missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitConsumed waits until every value was seen by one of the members.
func waitConsumed(t *testing.T, vals []string, ms ...*member) {
	t.Helper()
	waitAllSeen(t, 8*time.Second, vals, "not consumed by the group", func(v string) (n int) {
		for _, m := range ms {
			n += m.count(v)
		}
		return n
	})
}

// stableAssignment waits until the group is Stable with n members whose assignments of
// topic are disjoint and cover all parts partitions; it returns member id → partitions.
func stableAssignment(t *testing.T, adm *kadm.Client, grp, topic string, n, parts int) map[string][]int32 {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		dg, err := adm.DescribeGroups(ctxT(t, 5*time.Second), grp)
		if err != nil {
			t.Fatal(err)
		}
		g := dg[grp]
		out := map[string][]int32{}
		owners := map[int32]int{}
		for _, m := range g.Members {
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, at := range c.Topics {
					if at.Topic == topic {
						out[m.MemberID] = append(out[m.MemberID], at.Partitions...)
						for _, p := range at.Partitions {
							owners[p]++
						}
					}
				}
			}
		}
		ok := g.State == "Stable" && len(g.Members) == n && len(owners) == parts
		for _, c := range owners {
			ok = ok && c == 1
		}
		if ok {
			for _, ps := range out {
				slices.Sort(ps)
			}
			return out
		}
		last = fmt.Sprintf("state %s, %d members, owners %v", g.State, len(g.Members), owners)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s never became stable with %d members covering %d partitions: %s", grp, n, parts, last)
	return nil
}

func TestGroupSharesPartitions(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	for _, tc := range []struct {
		name string
		bal  kgo.GroupBalancer
	}{
		{"range", kgo.RangeBalancer()},
		{"roundrobin", kgo.RoundRobinBalancer()},
		{"sticky", kgo.StickyBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, grp := "share-"+tc.name, "g-"+tc.name
			createTopic(t, adm, topic, 6, nil)
			var ms []*member
			for range 3 {
				ms = append(ms, startMember(t, addr, grp, topic, kgo.Balancers(tc.bal)))
			}
			asg := stableAssignment(t, adm, grp, topic, 3, 6)
			for id, ps := range asg {
				if len(ps) != 2 {
					t.Errorf("member %s owns %v, want 2 of 6 partitions", id, ps)
				}
			}
			waitConsumed(t, produceValues(t, addr, topic, "v", 6, 6), ms...)
			dg, _ := adm.DescribeGroups(ctxT(t, 5*time.Second), grp)
			if p := dg[grp].Protocol; p != tc.name {
				t.Errorf("group protocol %q, want %q", p, tc.name)
			}
		})
	}
}

// rawJoin joins grp as a consumer member speaking the raw protocol (JoinGroup v9 with
// the MEMBER_ID_REQUIRED round trip, or a static instance id) and returns the response.
func rawJoin(t *testing.T, cl *kgo.Client, grp, memberID, instance, topic string, session time.Duration) *kmsg.JoinGroupResponse {
	t.Helper()
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = []string{topic}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.ProtocolType = grp, memberID, "consumer"
	req.SessionTimeoutMillis = int32(session / time.Millisecond)
	req.RebalanceTimeoutMillis = 5000
	if instance != "" {
		req.InstanceID = &instance
	}
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", md.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		return rawJoin(t, cl, grp, resp.MemberID, instance, topic, session)
	}
	return resp
}

func rawSync(t *testing.T, cl *kgo.Client, grp string, join *kmsg.JoinGroupResponse, instance string, assign map[string][]byte) *kmsg.SyncGroupResponse {
	t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.Generation, req.MemberID = grp, join.Generation, join.MemberID
	if instance != "" {
		req.InstanceID = &instance
	}
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func rawHeartbeat(t *testing.T, cl *kgo.Client, grp string, gen int32, memberID, instance string) error {
	t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.Generation, req.MemberID = grp, gen, memberID
	if instance != "" {
		req.InstanceID = &instance
	}
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

// TestGroupMemberLeavesAndCrashes: partitions of a member that leaves, and of one that
// stops heartbeating, move to the others, which keep consuming.
func TestGroupMemberLeavesAndCrashes(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	const topic, grp = "churn", "churners"
	createTopic(t, adm, topic, 6, nil)
	rng := kgo.Balancers(kgo.RangeBalancer()) // the raw member below speaks range
	a := startMember(t, addr, grp, topic, rng)
	b := startMember(t, addr, grp, topic, rng)
	c := startMember(t, addr, grp, topic, rng)
	stableAssignment(t, adm, grp, topic, 3, 6)
	waitConsumed(t, produceValues(t, addr, topic, "first", 6, 6), a, b, c)

	c.close() // leaves the group
	stableAssignment(t, adm, grp, topic, 2, 6)
	waitConsumed(t, produceValues(t, addr, topic, "second", 6, 6), a, b)

	// A raw member joins, takes partitions, then never heartbeats again.
	raw := newClient(t, addr)
	join := rawJoin(t, raw, grp, "", "", topic, time.Second)
	if join.ErrorCode != 0 {
		t.Fatalf("raw join: %v", kerr.ErrorForCode(join.ErrorCode))
	}
	sync := rawSync(t, raw, grp, join, "", nil)
	if sync.ErrorCode != 0 {
		t.Fatalf("raw sync: %v", kerr.ErrorForCode(sync.ErrorCode))
	}
	var got kmsg.ConsumerMemberAssignment
	if err := got.ReadFrom(sync.MemberAssignment); err != nil || len(got.Topics) != 1 || len(got.Topics[0].Partitions) != 2 {
		t.Fatalf("raw member assignment %+v (%v), want 2 partitions", got, err)
	}
	crashed := time.Now()
	asg := stableAssignment(t, adm, grp, topic, 2, 6)
	if _, still := asg[join.MemberID]; still {
		t.Fatalf("crashed member still assigned: %v", asg)
	}
	if d := time.Since(crashed); d > 4*time.Second {
		t.Errorf("crashed member's partitions moved after %v, session timeout is 1s", d)
	}
	waitConsumed(t, produceValues(t, addr, topic, "third", 6, 6), a, b)
}

// TestGroupOffsetsSurviveRestart: offsets committed by a group member and by kadm are
// fetched back after a broker restart.
func TestGroupOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b1 := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(groupConfig))
	addr := b1.Addr()
	adm := newAdmin(t, addr)
	createTopic(t, adm, "kept", 3, nil)
	vals := produceValues(t, addr, "kept", "k", 9, 3)
	m := startMember(t, addr, "keepers", "kept", kgo.DisableAutoCommit())
	waitConsumed(t, vals, m)
	if err := m.cl.CommitUncommittedOffsets(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	m.close()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "kept", Partition: 1, At: 2, LeaderEpoch: -1, Metadata: "by kadm"})
	if r, err := adm.CommitOffsets(ctxT(t, 5*time.Second), "admins", os); err != nil || r.Error() != nil {
		t.Fatalf("kadm commit: %v %v", err, r.Error())
	}
	if err := b1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	b2 := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(groupConfig))
	adm2 := newAdmin(t, b2.Addr())
	got, err := adm2.FetchOffsets(ctxT(t, 5*time.Second), "keepers")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		o, ok := got.Lookup("kept", p)
		if !ok || o.At != 3 || o.Err != nil {
			t.Errorf("keepers kept/%d after restart: %+v (found %v), want offset 3", p, o, ok)
		}
	}
	got, _ = adm2.FetchOffsets(ctxT(t, 5*time.Second), "admins")
	if o, ok := got.Lookup("kept", 1); !ok || o.At != 2 || o.Metadata != "by kadm" {
		t.Errorf("admins kept/1 after restart: %+v", o)
	}
	lg, err := adm2.ListGroups(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if names := lg.Groups(); !slices.Equal(names, []string{"admins", "keepers"}) {
		t.Errorf("groups after restart %v", names)
	}
	// A new member resumes after the committed offsets: it sees only new records.
	m2 := startMember(t, b2.Addr(), "keepers", "kept")
	fresh := produceValues(t, b2.Addr(), "kept", "new", 3, 3)
	waitConsumed(t, fresh, m2)
	m2.mu.Lock()
	defer m2.mu.Unlock()
	for _, v := range vals {
		if m2.seen[v] > 0 {
			t.Errorf("record %s consumed again after restart", v)
		}
	}
}

// TestGroupStaticMembership: a static member that restarts gets its old assignment back
// without a rebalance; a second live member with its instance id fences the first.
func TestGroupStaticMembership(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	const topic, grp = "statics", "static-group"
	createTopic(t, adm, topic, 4, nil)
	a := startMember(t, addr, grp, topic, kgo.InstanceID("a"), kgo.Balancers(kgo.RangeBalancer()))
	time.Sleep(20 * time.Millisecond) // a joins first and leads
	b := startMember(t, addr, grp, topic, kgo.InstanceID("b"), kgo.Balancers(kgo.RangeBalancer()))
	before := stableAssignment(t, adm, grp, topic, 2, 4)
	time.Sleep(300 * time.Millisecond) // let callbacks settle
	calls := a.assignedCalls()
	byInstance := func(asg map[string][]int32) []int32 {
		dg, _ := adm.DescribeGroups(ctxT(t, 5*time.Second), grp)
		for _, m := range dg[grp].Members {
			if m.InstanceID != nil && *m.InstanceID == "b" {
				return asg[m.MemberID]
			}
		}
		return nil
	}
	bBefore := byInstance(before)
	b.close() // a static member does not leave on close
	b2 := startMember(t, addr, grp, topic, kgo.InstanceID("b"), kgo.Balancers(kgo.RangeBalancer()))
	waitConsumed(t, produceValues(t, addr, topic, "s", 4, 4), a, b2)
	after := stableAssignment(t, adm, grp, topic, 2, 4)
	if got := byInstance(after); !slices.Equal(got, bBefore) {
		t.Errorf("restarted static member owns %v, before %v", got, bBefore)
	}
	if n := a.assignedCalls(); n != calls {
		t.Errorf("the other member was reassigned %d times: a rebalance happened", n-calls)
	}

	// Raw static members: the newer one fences the older one.
	cl := newClient(t, addr)
	j1 := rawJoin(t, cl, "fence", "", "x", topic, 5*time.Second)
	if j1.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(j1.ErrorCode))
	}
	if s := rawSync(t, cl, "fence", j1, "x", map[string][]byte{j1.MemberID: {}}); s.ErrorCode != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(s.ErrorCode))
	}
	j2 := rawJoin(t, cl, "fence", "", "x", topic, 5*time.Second)
	if j2.ErrorCode != 0 || j2.MemberID == j1.MemberID || j2.Generation != j1.Generation {
		t.Fatalf("second join with the same instance id: %v member %s gen %d (first %s gen %d)",
			kerr.ErrorForCode(j2.ErrorCode), j2.MemberID, j2.Generation, j1.MemberID, j1.Generation)
	}
	if err := rawHeartbeat(t, cl, "fence", j1.Generation, j1.MemberID, "x"); !errors.Is(err, kerr.FencedInstanceID) {
		t.Errorf("heartbeat of the replaced member: %v, want FENCED_INSTANCE_ID", err)
	}
	if err := rawHeartbeat(t, cl, "fence", j2.Generation, j2.MemberID, "x"); err != nil {
		t.Errorf("heartbeat of the new member: %v", err)
	}
	// Batch leave by instance id empties the group.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "fence"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.InstanceID = kmsg.StringPtr("x")
	leave.Members = append(leave.Members, lm)
	lr, err := leave.RequestWith(ctxT(t, 5*time.Second), cl)
	if err != nil || lr.ErrorCode != 0 || len(lr.Members) != 1 || lr.Members[0].ErrorCode != 0 {
		t.Fatalf("leave by instance id: %v %+v", err, lr)
	}
	if dg, _ := adm.DescribeGroups(ctxT(t, 5*time.Second), "fence"); dg["fence"].State != "Empty" {
		t.Errorf("group after leave: %s", dg["fence"].State)
	}
}

func TestGroupJoinErrors(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(func(c *config.Config) {
		groupConfig(c)
		c.GroupMaxSize = 1
	}))
	cl := newClient(t, addr)
	if j := rawJoin(t, cl, "e", "", "", "t", 50*time.Millisecond); j.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Errorf("session timeout below the minimum: %v", kerr.ErrorForCode(j.ErrorCode))
	}
	j := rawJoin(t, cl, "e", "", "", "t", time.Second)
	if j.ErrorCode != 0 || j.LeaderID != j.MemberID || len(j.Members) != 1 {
		t.Fatalf("first join: %v leader %s members %d", kerr.ErrorForCode(j.ErrorCode), j.LeaderID, len(j.Members))
	}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.ProtocolType, req.SessionTimeoutMillis = "e", "consumer", 1000
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	if r, _ := req.RequestWith(ctxT(t, 5*time.Second), cl); r == nil || r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Errorf("join beyond group.max.size: %+v", r)
	}
	if s := rawSync(t, cl, "e", &kmsg.JoinGroupResponse{MemberID: j.MemberID, Generation: j.Generation + 1}, "", nil); s.ErrorCode != kerr.IllegalGeneration.Code {
		t.Errorf("sync with a wrong generation: %v", kerr.ErrorForCode(s.ErrorCode))
	}
	if s := rawSync(t, cl, "e", &kmsg.JoinGroupResponse{MemberID: "nobody", Generation: j.Generation}, "", nil); s.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("sync of an unknown member: %v", kerr.ErrorForCode(s.ErrorCode))
	}
	if err := rawHeartbeat(t, cl, "e", j.Generation, j.MemberID, ""); !errors.Is(err, kerr.RebalanceInProgress) && err != nil {
		t.Errorf("heartbeat while awaiting sync: %v", err)
	}
}

func TestGroupAdmin(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	createTopic(t, adm, "adm", 2, nil)
	m := startMember(t, addr, "busy", "adm")
	stableAssignment(t, adm, "busy", "adm", 1, 2)
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "adm", Partition: 0, At: 1, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "adm", Partition: 1, At: 5, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctxT(t, 5*time.Second), "idle", os); err != nil {
		t.Fatal(err)
	}
	// OffsetDelete: refused for a topic a live member consumes, done for an empty group.
	one := kadm.TopicsSet{"adm": {1: {}}}
	if dr, err := adm.DeleteOffsets(ctxT(t, 5*time.Second), "busy", one); err != nil || !errors.Is(dr.Error(), kerr.GroupSubscribedToTopic) {
		t.Errorf("offset delete in a subscribed group: %v %v", err, dr.Error())
	}
	if dr, err := adm.DeleteOffsets(ctxT(t, 5*time.Second), "idle", one); err != nil || dr.Error() != nil {
		t.Errorf("offset delete: %v %v", err, dr.Error())
	}
	if got, _ := adm.FetchOffsets(ctxT(t, 5*time.Second), "idle"); len(got["adm"]) != 1 || got["adm"][0].At != 1 {
		t.Errorf("offsets after OffsetDelete of adm/1: %v", got)
	}
	lg, err := adm.ListGroups(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if lg["busy"].State != "Stable" || lg["busy"].ProtocolType != "consumer" || lg["idle"].State != "Empty" {
		t.Errorf("listed groups %+v", lg)
	}
	if lg, _ := adm.ListGroups(ctxT(t, 5*time.Second), "Empty"); !slices.Equal(lg.Groups(), []string{"idle"}) {
		t.Errorf("groups filtered by Empty: %v", lg.Groups())
	}
	dg, err := adm.DescribeGroups(ctxT(t, 5*time.Second), "busy", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if g := dg["busy"]; len(g.Members) != 1 || g.Members[0].ClientHost != "/127.0.0.1" || g.Protocol != "cooperative-sticky" {
		t.Errorf("described %+v", g)
	}
	if dg["missing"].State != "Dead" {
		t.Errorf("unknown group described as %q, want Dead", dg["missing"].State)
	}
	dr, err := adm.DeleteGroups(ctxT(t, 5*time.Second), "busy", "idle", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(dr["busy"].Err, kerr.NonEmptyGroup) || dr["idle"].Err != nil || !errors.Is(dr["missing"].Err, kerr.GroupIDNotFound) {
		t.Errorf("delete results busy=%v idle=%v missing=%v", dr["busy"].Err, dr["idle"].Err, dr["missing"].Err)
	}
	if got, _ := adm.FetchOffsets(ctxT(t, 5*time.Second), "idle"); len(got) != 0 {
		t.Errorf("offsets of a deleted group: %v", got)
	}
	m.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		dr, _ := adm.DeleteGroups(ctxT(t, 5*time.Second), "busy")
		if dr["busy"].Err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleting the group after its member left: %v", dr["busy"].Err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lg, _ := adm.ListGroups(ctxT(t, 5*time.Second)); len(lg) != 0 {
		t.Errorf("groups left after deletes: %v", lg.Groups())
	}
}

// TestGroupKcat consumes as a librdkafka balanced consumer and checks its commits.
func TestGroupKcat(t *testing.T) {
	kcat := needKcat(t)
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	createTopic(t, adm, "rdk", 2, nil)
	vals := produceValues(t, addr, "rdk", "r", 10, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", addr, "-G", "rdkgroup", "-X", "auto.offset.reset=earliest",
		"-e", "-q", "-f", "%s\n", "rdk")
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat -G: %v\n%s", err, errb.String())
	}
	got := strings.Fields(string(out))
	sort.Strings(got)
	sort.Strings(vals)
	if !slices.Equal(got, vals) {
		t.Fatalf("kcat consumed %v, want %v", got, vals)
	}
	offs, err := adm.FetchOffsets(ctxT(t, 5*time.Second), "rdkgroup")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if o, ok := offs.Lookup("rdk", p); !ok || o.At != 5 {
			t.Errorf("kcat committed rdk/%d: %+v, want 5", p, o)
		}
	}
}
