package broker_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/config"
)

// group848Config makes KIP-848 groups react fast enough for tests: members heartbeat every
// 100ms and are fenced after 3s of silence.
func group848Config(c *config.Config) {
	groupConfig(c)
	c.GroupConsumerHeartbeatIntervalMs = 100
	c.GroupConsumerSessionTimeoutMs = 3000
}

// ownership checks, from the clients' own callbacks, that no partition is ever owned by
// two members at once: a member gives a partition up (OnPartitionsRevoked/Lost) before
// the broker may give it to another one (OnPartitionsAssigned).
type ownership struct {
	mu         sync.Mutex
	owner      map[string]string // "topic/partition" → member name
	violations []string
}

func newOwnership() *ownership { return &ownership{owner: map[string]string{}} }

func (o *ownership) assigned(who string, m map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			k := fmt.Sprintf("%s/%d", t, p)
			if cur, ok := o.owner[k]; ok && cur != who {
				o.violations = append(o.violations, fmt.Sprintf("%s given to %s while %s owns it", k, who, cur))
			}
			o.owner[k] = who
		}
	}
}

func (o *ownership) released(who string, m map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			k := fmt.Sprintf("%s/%d", t, p)
			if o.owner[k] == who {
				delete(o.owner, k)
			}
		}
	}
}

// releasedAll forgets every partition of a member (a crashed member's partitions).
func (o *ownership) releasedAll(who string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, w := range o.owner {
		if w == who {
			delete(o.owner, k)
		}
	}
}

func (o *ownership) check(t *testing.T) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.violations) > 0 {
		t.Fatalf("a partition had two owners: %s", strings.Join(o.violations, "; "))
	}
}

// consumer848 is a kgo group member (of a KIP-848 group with start848, kgo's
// ServerSideBalancer; of a classic group with startClassic) that processes every polled
// record before it allows a rebalance and commits what it processed when partitions are
// revoked: across rebalances no record is lost or processed twice.
type consumer848 struct {
	name string
	cl   *kgo.Client
	mu   sync.Mutex
	seen map[string]int // value → times processed
	errs []string       // commit errors
	asg  int            // OnPartitionsAssigned calls
	done chan struct{}
}

func start848(t *testing.T, addr, grp, name string, topics []string, own *ownership, opts ...kgo.Opt) *consumer848 {
	t.Helper()
	return startCommitting(t, addr, grp, name, topics, own,
		append([]kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer())}, opts...)...)
}

// startClassic is start848 for a classic group member with the given balancer.
func startClassic(t *testing.T, addr, grp, name string, topics []string, own *ownership, bal kgo.GroupBalancer, opts ...kgo.Opt) *consumer848 {
	t.Helper()
	return startCommitting(t, addr, grp, name, topics, own,
		append([]kgo.Opt{kgo.Balancers(bal), kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(100 * time.Millisecond)}, opts...)...)
}

func startCommitting(t *testing.T, addr, grp, name string, topics []string, own *ownership, opts ...kgo.Opt) *consumer848 {
	t.Helper()
	m := &consumer848{name: name, seen: map[string]int{}, done: make(chan struct{})}
	commit := func(ctx context.Context, cl *kgo.Client) {
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			m.mu.Lock()
			m.errs = append(m.errs, err.Error())
			m.mu.Unlock()
		}
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			m.asg++
			m.mu.Unlock()
			if own != nil {
				own.assigned(name, a)
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			commit(ctx, cl)
			if own != nil {
				own.released(name, r)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			if own != nil {
				own.released(name, l)
			}
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
				cl.AllowRebalance()
				return
			}
			m.mu.Lock()
			for _, r := range fs.Records() {
				m.seen[string(r.Value)]++
			}
			m.mu.Unlock()
			cl.AllowRebalance()
		}
	}()
	t.Cleanup(m.close)
	return m
}

// close commits what was processed and leaves the group.
func (m *consumer848) close() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cl.Close()
	<-m.done
}

func (m *consumer848) assignedCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.asg
}

func (m *consumer848) seenCopy() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.seen)
}

// count is how many times the member processed value v.
func (m *consumer848) count(v string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[v]
}

// waitProcessed waits until every value was processed by one of the members.
func waitProcessed(t *testing.T, vals []string, ms ...*consumer848) {
	t.Helper()
	waitAllSeen(t, 20*time.Second, vals, "not consumed by the group", func(v string) (n int) {
		for _, m := range ms {
			n += m.count(v)
		}
		return n
	})
}

// waitNoneLost waits until every value was processed by one of the members or, before
// it was killed, by child (its values seen until then).
func waitNoneLost(t *testing.T, vals []string, child map[string]int, ms ...*consumer848) {
	t.Helper()
	waitAllSeen(t, 20*time.Second, vals, "lost after the crash", func(v string) int {
		n := child[v]
		for _, m := range ms {
			n += m.count(v)
		}
		return n
	})
}

// exactlyOnce fails if a value was processed more than once across the members.
func exactlyOnce(t *testing.T, vals []string, ms ...*consumer848) {
	t.Helper()
	total := map[string]int{}
	for _, m := range ms {
		for v, n := range m.seenCopy() {
			total[v] += n
		}
	}
	var dups []string
	for _, v := range vals {
		if total[v] > 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", v, total[v]))
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		t.Fatalf("%d records processed more than once: %v", len(dups), dups[:min(len(dups), 20)])
	}
}

// layout848 waits until the consumer group is Stable with n members whose current
// assignments of topic are disjoint, cover its parts partitions and satisfy check; it
// returns the group as described.
func layout848(t *testing.T, adm *kadm.Client, grp, topic string, n, parts int, check func(kadm.DescribedConsumerGroup) error) kadm.DescribedConsumerGroup {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		dg, err := adm.DescribeConsumerGroups(ctxT(t, 5*time.Second), grp)
		if err != nil {
			t.Fatal(err)
		}
		g := dg[grp]
		owners := map[int32]int{}
		for _, m := range g.Members {
			for p := range m.Assignment[topic] {
				owners[p]++
			}
		}
		ok := g.Err == nil && g.State == "Stable" && len(g.Members) == n && len(owners) == parts
		for _, c := range owners {
			ok = ok && c == 1
		}
		last = fmt.Sprintf("err %v, state %s, epoch %d/%d, %d members, owners %v", g.Err, g.State, g.Epoch, g.AssignmentEpoch, len(g.Members), owners)
		if ok && check != nil {
			if err := check(g); err != nil {
				ok, last = false, last+": "+err.Error()
			}
		}
		if ok {
			return g
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("consumer group %s never became stable with %d members covering %d partitions: %s", grp, n, parts, last)
	return kadm.DescribedConsumerGroup{}
}

// partitionsOf returns each member's partitions of topic, sorted, by member id.
func partitionsOf(g kadm.DescribedConsumerGroup, topic string) map[string][]int32 {
	out := map[string][]int32{}
	for _, m := range g.Members {
		ps := []int32{}
		for p := range m.Assignment[topic] {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		out[m.MemberID] = ps
	}
	return out
}
