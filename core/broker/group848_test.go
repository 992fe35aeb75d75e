package broker_test

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streamd/streamd/assignor"
	"github.com/streamd/streamd/core/broker/brokertest"
)

// TestGroup848Members: kgo members of a KIP-848 group (kgo.ServerSideBalancer) join,
// leave and crash. Partitions are spread evenly by the server ("uniform"), move when
// members come and go, and a member killed with SIGKILL loses its partitions once its
// session times out. Members commit what they processed when partitions are revoked, so
// across the clean rebalances no record is lost or processed twice, and after the crash
// only what the crashed member had not committed is processed again.
func TestGroup848Members(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(group848Config))
	adm := newAdmin(t, addr)
	const topic, grp = "members848", "g-members848"
	createTopic(t, adm, topic, 6, nil)
	own := newOwnership()
	var vals []string
	produce := func(prefix string) { vals = append(vals, produceValues(t, addr, topic, prefix, 30, 6)...) }
	sizes := func(want ...int) func(kadm.DescribedConsumerGroup) error {
		return func(g kadm.DescribedConsumerGroup) error {
			var got []int
			for _, ps := range partitionsOf(g, topic) {
				got = append(got, len(ps))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) || g.AssignorName != "uniform" {
				return fmt.Errorf("partitions per member %v by %q, want %v by uniform", got, g.AssignorName, want)
			}
			return nil
		}
	}

	a := start848(t, addr, grp, "a", []string{topic}, own)
	b := start848(t, addr, grp, "b", []string{topic}, own)
	layout848(t, adm, grp, topic, 2, 6, sizes(3, 3))
	produce("first")
	waitProcessed(t, vals, a, b)

	c := start848(t, addr, grp, "c", []string{topic}, own)
	layout848(t, adm, grp, topic, 3, 6, sizes(2, 2, 2))
	produce("second")
	waitProcessed(t, vals, a, b, c)

	c.close() // commits on revoke, then leaves
	layout848(t, adm, grp, topic, 2, 6, sizes(3, 3))
	produce("third")
	waitProcessed(t, vals, a, b, c)
	exactlyOnce(t, vals, a, b, c)
	own.check(t)

	// A member in another process takes partitions, processes records, and is killed.
	child := startChildConsumer(t, addr, grp, topic, "848")
	layout848(t, adm, grp, topic, 3, 6, sizes(2, 2, 2))
	produce("fourth")
	child.waitProcessing(t)
	child.kill()
	killed := time.Now()
	layout848(t, adm, grp, topic, 2, 6, sizes(3, 3))
	moved := time.Since(killed)
	t.Logf("partitions of the killed member moved after %v (session timeout 3s)", moved)
	if moved > 15*time.Second {
		t.Errorf("partitions of the killed member moved after %v; the session timeout is 3s", moved)
	}
	produce("fifth")
	waitNoneLost(t, vals, child.seenCopy(), a, b, c)
	// The survivors never process a record twice; only records the child processed (and
	// possibly did not commit) are processed again.
	exactlyOnce(t, vals, a, b, c)
	own.check(t)
}

// TestGroup848AssignorSwitchUnderLoad: while records are produced continuously and three
// members consume, group.assignor is switched between the server assignors (range,
// uniform, and roundrobin through the same seam). Each switch gives a new target
// assignment, reconciled incrementally: the clients never see a partition owned twice,
// ConsumerGroupDescribe names the strategy that produced the assignment, and every record
// is processed exactly once.
func TestGroup848AssignorSwitchUnderLoad(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(group848Config))
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	const topic, grp = "switch848", "g-switch848"
	const parts = 8
	createTopic(t, adm, topic, parts, nil)
	own := newOwnership()

	stopProducing := produceInBackground(t, addr, topic, parts)
	ms := []*consumer848{
		start848(t, addr, grp, "a", []string{topic}, own),
		start848(t, addr, grp, "b", []string{topic}, own),
		start848(t, addr, grp, "c", []string{topic}, own),
	}
	byStrategy := func(name string) func(kadm.DescribedConsumerGroup) error {
		return func(g kadm.DescribedConsumerGroup) error {
			if g.AssignorName != name {
				return fmt.Errorf("assignor %q, want %q", g.AssignorName, name)
			}
			spec := assignor.GroupSpec{Partitions: map[string]int32{topic: parts}}
			for _, m := range g.Members {
				spec.Members = append(spec.Members, assignor.Member{ID: m.MemberID, Topics: []string{topic}})
			}
			strat, _ := assignor.ByName(name)
			want, err := strat.Assign(spec)
			if err != nil {
				return err
			}
			got := partitionsOf(g, topic)
			if name == "uniform" { // sticky: any balanced layout
				var n []int
				for _, ps := range got {
					n = append(n, len(ps))
				}
				slices.Sort(n)
				if !slices.Equal(n, []int{2, 3, 3}) {
					return fmt.Errorf("uniform layout %v", got)
				}
				return nil
			}
			for id, tps := range want {
				var ps []int32
				for _, tp := range tps {
					ps = append(ps, tp.Partition)
				}
				if !slices.Equal(ps, got[id]) {
					return fmt.Errorf("layout %v, want %s's %v", got, name, want)
				}
			}
			return nil
		}
	}
	layout848(t, adm, grp, topic, 3, parts, byStrategy("uniform"))
	for _, name := range []string{"range", "uniform", "roundrobin", "range", ""} {
		if err := alterGroupAssignor(t, cl, grp, name); err != nil {
			t.Fatalf("set group.assignor %q: %v", name, err)
		}
		want := name
		if name == "" {
			want = "uniform" // unset: the members' choice again
		}
		layout848(t, adm, grp, topic, 3, parts, byStrategy(want))
		own.check(t)
	}
	vals := stopProducing()
	if len(vals) < 100 {
		t.Fatalf("only %d records produced during the switches", len(vals))
	}
	waitProcessed(t, vals, ms...)
	for _, m := range ms {
		m.close()
	}
	exactlyOnce(t, vals, ms...)
	own.check(t)
	var errs []string
	for _, m := range ms {
		m.mu.Lock()
		errs = append(errs, m.errs...)
		m.mu.Unlock()
	}
	sort.Strings(errs)
	t.Logf("%d records produced while switching; commit errors: %v", len(vals), errs)
}
