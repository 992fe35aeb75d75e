package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/assignor"
	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// alterGroupAssignor is setGroupAssignor without the message.
func alterGroupAssignor(t *testing.T, cl *kgo.Client, grp, name string) error {
	t.Helper()
	err, _ := setGroupAssignor(t, cl, grp, name)
	return err
}

// setGroupAssignor sets (or with name == "" deletes) group.assignor through
// IncrementalAlterConfigs on the GROUP resource and returns the resource's error and
// message.
func setGroupAssignor(t *testing.T, cl *kgo.Client, grp, name string) (error, string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, grp
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op = "group.assignor", kmsg.IncrementalAlterConfigOpSet
	if name == "" {
		c.Op = kmsg.IncrementalAlterConfigOpDelete
	} else {
		c.Value = kmsg.StringPtr(name)
	}
	r.Configs = append(r.Configs, c)
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	rr := resp.Resources[0]
	msg := ""
	if rr.ErrorMessage != nil {
		msg = *rr.ErrorMessage
	}
	return kerr.ErrorForCode(rr.ErrorCode), msg
}

// describeGroupAssignor returns group.assignor as DescribeConfigs reports it (nil = unset).
func describeGroupAssignor(t *testing.T, cl *kgo.Client, grp string) (*string, kmsg.ConfigSource) {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, grp
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctxT(t, 5*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	rr := resp.Resources[0]
	if err := kerr.ErrorForCode(rr.ErrorCode); err != nil || len(rr.Configs) != 1 || rr.Configs[0].Name != "group.assignor" {
		t.Fatalf("describe group configs of %s: err %v, configs %+v", grp, err, rr.Configs)
	}
	return rr.Configs[0].Value, rr.Configs[0].Source
}

func TestGroupAssignorConfig(t *testing.T) {
	dir := t.TempDir()
	b := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(groupConfig))
	cl := newClient(t, b.Addr())
	if v, src := describeGroupAssignor(t, cl, "cfg"); v != nil || src != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("unset group.assignor described as %v (source %v)", v, src)
	}
	if err := alterGroupAssignor(t, cl, "cfg", "fastest"); err != kerr.InvalidConfig {
		t.Fatalf("unknown strategy: got %v, want INVALID_CONFIG", err)
	}
	if err := alterGroupAssignor(t, cl, "cfg", "uniform"); err != nil {
		t.Fatal(err)
	}
	if v, src := describeGroupAssignor(t, cl, "cfg"); v == nil || *v != "uniform" || src != kmsg.ConfigSourceGroupConfig {
		t.Fatalf("group.assignor described as %v (source %v), want uniform from GROUP_CONFIG", v, src)
	}
	// Legacy AlterConfigs replaces the group's configs.
	areq := kmsg.NewPtrAlterConfigsRequest()
	ar := kmsg.NewAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "other"
	ac := kmsg.NewAlterConfigsRequestResourceConfig()
	ac.Name, ac.Value = "group.assignor", kmsg.StringPtr("roundrobin")
	ar.Configs = append(ar.Configs, ac)
	areq.Resources = append(areq.Resources, ar)
	aresp, err := areq.RequestWith(ctxT(t, 5*time.Second), cl)
	if err != nil || aresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("AlterConfigs group: %v %+v", err, aresp)
	}
	// Settings survive a restart.
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	b2 := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(groupConfig))
	cl2 := newClient(t, b2.Addr())
	for grp, want := range map[string]string{"cfg": "uniform", "other": "roundrobin"} {
		if v, _ := describeGroupAssignor(t, cl2, grp); v == nil || *v != want {
			t.Errorf("after restart group.assignor of %s = %v, want %s", grp, v, want)
		}
	}
	if err := alterGroupAssignor(t, cl2, "cfg", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := describeGroupAssignor(t, cl2, "cfg"); v != nil {
		t.Errorf("deleted group.assignor still described as %q", *v)
	}
	// The deletion is persisted too.
	if err := b2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	b3 := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(groupConfig))
	cl3 := newClient(t, b3.Addr())
	if v, _ := describeGroupAssignor(t, cl3, "cfg"); v != nil {
		t.Errorf("deleted group.assignor back after a restart as %q", *v)
	}
	if v, _ := describeGroupAssignor(t, cl3, "other"); v == nil || *v != "roundrobin" {
		t.Errorf("after a second restart group.assignor of other = %v, want roundrobin", v)
	}
}

// TestGroupAssignorLegacyFile: settings an older build kept in <log.dirs>/group-configs.json
// are moved into the metadata store at start (the file goes) and stay after a restart.
func TestGroupAssignorLegacyFile(t *testing.T) {
	dir := t.TempDir()
	legacy := filepath.Join(dir, "group-configs.json")
	if err := os.WriteFile(legacy, []byte(`{"legacy": "range", "other": "sticky"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		b := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(groupConfig))
		cl := newClient(t, b.Addr())
		for grp, want := range map[string]string{"legacy": "range", "other": "sticky"} {
			if v, src := describeGroupAssignor(t, cl, grp); v == nil || *v != want || src != kmsg.ConfigSourceGroupConfig {
				t.Errorf("start %d: group.assignor of %s = %v (source %v), want %s", round+1, grp, v, src, want)
			}
		}
		if _, err := os.Stat(legacy); !os.IsNotExist(err) {
			t.Fatalf("start %d: legacy file still there (%v)", round+1, err)
		}
		if err := b.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// groupLayout waits until grp is Stable with n members owning every partition of topics
// (parts each) exactly once and check accepts the layout (member id → sorted partitions);
// it fails with the last layout seen otherwise.
func groupLayout(t *testing.T, adm *kadm.Client, grp string, topics []string, parts, n int, check func(kadm.DescribedGroup, assignor.Assignment) error) assignor.Assignment {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		dg, err := adm.DescribeGroups(ctxT(t, 5*time.Second), grp)
		if err != nil {
			t.Fatal(err)
		}
		g := dg[grp]
		got := assignor.Assignment{}
		owners := map[assignor.TopicPartition]int{}
		for _, m := range g.Members {
			got[m.MemberID] = nil
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, at := range c.Topics {
					for _, p := range at.Partitions {
						tp := assignor.TopicPartition{Topic: at.Topic, Partition: p}
						got[m.MemberID] = append(got[m.MemberID], tp)
						owners[tp]++
					}
				}
			}
		}
		for id := range got {
			sort.Slice(got[id], func(i, j int) bool {
				a, b := got[id][i], got[id][j]
				return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
			})
		}
		ok := g.State == "Stable" && len(g.Members) == n && len(owners) == len(topics)*parts
		for _, c := range owners {
			ok = ok && c == 1
		}
		if ok {
			err := check(g, got)
			if err == nil {
				return got
			}
			last = err.Error()
		} else {
			last = fmt.Sprintf("state %s, %d members, layout %v", g.State, len(g.Members), got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s never reached the expected layout: %s", grp, last)
	return nil
}

// matches returns a check that the layout is exactly the strategy's output for the
// described members (their subscriptions from the join metadata).
func matches(name string, partitions map[string]int32) func(kadm.DescribedGroup, assignor.Assignment) error {
	return func(g kadm.DescribedGroup, got assignor.Assignment) error {
		spec := assignor.GroupSpec{Partitions: partitions}
		for _, m := range g.Members {
			am := assignor.Member{ID: m.MemberID}
			if m.InstanceID != nil {
				am.InstanceID = *m.InstanceID
			}
			if md, ok := m.Join.AsConsumer(); ok {
				am.Topics = md.Topics
			}
			spec.Members = append(spec.Members, am)
		}
		a, _ := assignor.ByName(name)
		want, err := a.Assign(spec)
		if err != nil {
			return err
		}
		for id, tps := range want {
			if !slices.Equal(tps, got[id]) {
				return fmt.Errorf("layout %v, want %s's %v", got, name, want)
			}
		}
		return nil
	}
}

func sizes(a assignor.Assignment) []int {
	var out []int
	for _, tps := range a {
		out = append(out, len(tps))
	}
	slices.Sort(out)
	return out
}

// startMulti starts a group member consuming several topics.
func startMulti(t *testing.T, addr, grp string, topics []string, bal kgo.GroupBalancer) *member {
	return startMember(t, addr, grp, topics[0], kgo.ConsumeTopics(topics...), kgo.Balancers(bal))
}

func TestGroupAssignorBrokerOwned(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	topics := []string{"ga-a", "ga-b"}
	partitions := map[string]int32{}
	for _, tp := range topics {
		createTopic(t, adm, tp, 3, nil)
		partitions[tp] = 3
	}
	// The clients' own protocol is roundrobin (3 + 3); the broker's range gives 4 + 2.
	if err := alterGroupAssignor(t, cl, "ga", "range"); err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, tp := range topics {
		vals = append(vals, produceValues(t, addr, tp, tp+"-1", 6, 3)...)
	}
	m1 := startMulti(t, addr, "ga", topics, kgo.RoundRobinBalancer())
	m2 := startMulti(t, addr, "ga", topics, kgo.RoundRobinBalancer())
	got := groupLayout(t, adm, "ga", topics, 3, 2, matches("range", partitions))
	if s := sizes(got); !slices.Equal(s, []int{2, 4}) {
		t.Fatalf("range layout sizes %v, want [2 4]", s)
	}
	waitConsumed(t, vals, m1, m2)

	// Switching the strategy while the members consume rebalances the group.
	if err := alterGroupAssignor(t, cl, "ga", "roundrobin"); err != nil {
		t.Fatal(err)
	}
	got = groupLayout(t, adm, "ga", topics, 3, 2, matches("roundrobin", partitions))
	if s := sizes(got); !slices.Equal(s, []int{3, 3}) {
		t.Fatalf("roundrobin layout sizes %v, want [3 3]", s)
	}
	for _, tp := range topics {
		vals = append(vals, produceValues(t, addr, tp, tp+"-2", 6, 3)...)
	}
	waitConsumed(t, vals, m1, m2)
	total := 0
	for _, m := range []*member{m1, m2} {
		m.mu.Lock()
		for _, c := range m.seen {
			total += c
		}
		m.mu.Unlock()
	}
	if total < len(vals) {
		t.Fatalf("consumed %d records, produced %d", total, len(vals))
	}
}

// Cooperative clients: a broker-side plan that moves partitions holds them back for one
// round; the clients rejoin after revoking and the full plan follows.
func TestGroupAssignorCooperative(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(groupConfig))
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	topics := []string{"gc-a", "gc-b"}
	partitions := map[string]int32{}
	for _, tp := range topics {
		createTopic(t, adm, tp, 3, nil)
		partitions[tp] = 3
	}
	if err := alterGroupAssignor(t, cl, "gc", "cooperative-sticky"); err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, tp := range topics {
		vals = append(vals, produceValues(t, addr, tp, tp, 6, 3)...)
	}
	m1 := startMulti(t, addr, "gc", topics, kgo.CooperativeStickyBalancer())
	groupLayout(t, adm, "gc", topics, 3, 1, func(kadm.DescribedGroup, assignor.Assignment) error { return nil })
	m2 := startMulti(t, addr, "gc", topics, kgo.CooperativeStickyBalancer())
	got := groupLayout(t, adm, "gc", topics, 3, 2, func(_ kadm.DescribedGroup, a assignor.Assignment) error {
		if s := sizes(a); !slices.Equal(s, []int{3, 3}) {
			return fmt.Errorf("sizes %v, want [3 3]", s)
		}
		return nil
	})
	if len(got) != 2 {
		t.Fatalf("layout %v", got)
	}
	// Moving to range with cooperative clients: held back partitions arrive a round later.
	if err := alterGroupAssignor(t, cl, "gc", "range"); err != nil {
		t.Fatal(err)
	}
	groupLayout(t, adm, "gc", topics, 3, 2, matches("range", partitions))
	for _, tp := range topics {
		vals = append(vals, produceValues(t, addr, tp, tp+"-2", 6, 3)...)
	}
	waitConsumed(t, vals, m1, m2)
}

// TestGroupAssignorBrokerDefault: the broker's group.assignor (config.toml) is the
// strategy of every group without its own setting, classic and KIP-848 alike, and is
// shown by DescribeConfigs as a static broker config; a group's own setting wins.
func TestGroupAssignorBrokerDefault(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(func(c *config.Config) {
		group848Config(c)
		c.GroupAssignor = "range"
	}))
	adm := newAdmin(t, addr)
	cl := newClient(t, addr)
	topics := []string{"gd-a", "gd-b"}
	for _, tp := range topics {
		createTopic(t, adm, tp, 3, nil)
	}
	if v, src := describeGroupAssignor(t, cl, "gd"); v == nil || *v != "range" || src != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("group.assignor of a group without its own: %v (source %v), want range from the broker", v, src)
	}
	partitions := map[string]int32{"gd-a": 3, "gd-b": 3}
	// Classic members speaking roundrobin get the broker's range layout (4 + 2).
	startMulti(t, addr, "gd", topics, kgo.RoundRobinBalancer())
	startMulti(t, addr, "gd", topics, kgo.RoundRobinBalancer())
	groupLayout(t, adm, "gd", topics, 3, 2, matches("range", partitions))
	// KIP-848 members asking for uniform get range too.
	start848(t, addr, "gd848", "a", []string{"gd-a"}, nil)
	start848(t, addr, "gd848", "b", []string{"gd-a"}, nil)
	layout848(t, adm, "gd848", "gd-a", 2, 3, func(g kadm.DescribedConsumerGroup) error {
		if g.AssignorName != "range" {
			return fmt.Errorf("assignor %q, want the broker's range", g.AssignorName)
		}
		return nil
	})
	// The group's own setting wins over the broker's.
	if err := alterGroupAssignor(t, cl, "gd", "roundrobin"); err != nil {
		t.Fatal(err)
	}
	groupLayout(t, adm, "gd", topics, 3, 2, matches("roundrobin", partitions))
	if v, src := describeGroupAssignor(t, cl, "gd"); v == nil || *v != "roundrobin" || src != kmsg.ConfigSourceGroupConfig {
		t.Fatalf("group.assignor after set: %v (source %v)", v, src)
	}
}
