package broker_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/assignor"
	"github.com/streamd/streamd/core/broker/brokertest"
)

// TestGroupBalancersChurn: classic groups with each kgo balancer. Members join and leave
// (committing on revoke: no record lost or processed twice), then a member running in
// another process is killed with SIGKILL: its partitions move to the others after its
// session timeout and nothing is lost. The clients' callbacks never show a partition
// owned twice.
func TestGroupBalancersChurn(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	for _, bal := range []string{"range", "roundrobin", "sticky", "cooperative-sticky"} {
		t.Run(bal, func(t *testing.T) {
			t.Parallel()
			topic, grp := "churn-"+bal, "g-churn-"+bal
			createTopic(t, adm, topic, 4, nil)
			own := newOwnership()
			var vals []string
			produce := func(prefix string) { vals = append(vals, produceValues(t, addr, topic, prefix, 20, 4)...) }
			a := startClassic(t, addr, grp, "a", []string{topic}, own, balancerByName(bal))
			b := startClassic(t, addr, grp, "b", []string{topic}, own, balancerByName(bal))
			stableAssignment(t, adm, grp, topic, 2, 4)
			produce("one")
			waitProcessed(t, vals, a, b)
			c := startClassic(t, addr, grp, "c", []string{topic}, own, balancerByName(bal))
			stableAssignment(t, adm, grp, topic, 3, 4)
			produce("two")
			waitProcessed(t, vals, a, b, c)
			c.close()
			stableAssignment(t, adm, grp, topic, 2, 4)
			produce("three")
			waitProcessed(t, vals, a, b, c)
			exactlyOnce(t, vals, a, b, c)

			child := startChildConsumer(t, addr, grp, topic, bal)
			stableAssignment(t, adm, grp, topic, 3, 4)
			produce("four")
			child.waitProcessing(t)
			child.kill()
			killed := time.Now()
			stableAssignment(t, adm, grp, topic, 2, 4)
			t.Logf("%s: partitions of the killed member moved after %v (session timeout 2s)", bal, time.Since(killed))
			produce("five")
			waitNoneLost(t, vals, child.seenCopy(), a, b, c)
			exactlyOnce(t, vals, a, b, c)
			own.check(t)
		})
	}
}

// TestGroupAssignorSwitchUnderLoadClassic: group.assignor is switched while cooperative
// kgo members of a classic group consume a topic being produced to. The coordinator holds
// moved partitions back for one round, so the members never see a partition owned twice;
// after each switch the layout is the strategy's; no record is lost or processed twice.
func TestGroupAssignorSwitchUnderLoadClassic(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	const topic, grp = "switch-classic", "g-switch-classic"
	const parts = 6
	createTopic(t, adm, topic, parts, nil)
	own := newOwnership()
	stopProducing := produceInBackground(t, addr, topic, parts)
	ms := []*consumer848{
		startClassic(t, addr, grp, "a", []string{topic}, own, kgo.CooperativeStickyBalancer()),
		startClassic(t, addr, grp, "b", []string{topic}, own, kgo.CooperativeStickyBalancer()),
	}
	partitions := map[string]int32{topic: parts}
	groupLayout(t, adm, grp, []string{topic}, parts, 2, func(kadm.DescribedGroup, assignor.Assignment) error { return nil })
	for _, name := range []string{"range", "roundrobin", "range"} {
		if err := alterGroupAssignor(t, cl, grp, name); err != nil {
			t.Fatal(err)
		}
		groupLayout(t, adm, grp, []string{topic}, parts, 2, matches(name, partitions))
		own.check(t)
	}
	if err := alterGroupAssignor(t, cl, grp, ""); err != nil {
		t.Fatal(err)
	}
	groupLayout(t, adm, grp, []string{topic}, parts, 2, func(_ kadm.DescribedGroup, a assignor.Assignment) error {
		if s := sizes(a); !slices.Equal(s, []int{3, 3}) {
			return fmt.Errorf("sizes %v with the members' own cooperative-sticky", s)
		}
		return nil
	})
	vals := stopProducing()
	waitProcessed(t, vals, ms...)
	for _, m := range ms {
		m.close()
	}
	exactlyOnce(t, vals, ms...)
	own.check(t)
}
