package broker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
	"github.com/streamd/streamd/core/wasmhost"
	"github.com/streamd/streamd/partitioner"
)

// tenantRange is the partitions [lo, hi) the tenant example gives a key's region among n.
func tenantRange(key string, n int32) (int32, int32) {
	for _, r := range []struct {
		prefix string
		lo, hi int32
	}{{"eu:", 0, 8}, {"us:", 8, 12}, {"ap:", 12, 16}} {
		if strings.HasPrefix(key, r.prefix) {
			lo := min(r.lo*n/16, n-1)
			return lo, max(r.hi*n/16, lo+1)
		}
	}
	return 0, n
}

// TestMisbehavingPlugins: partitioners that loop, run out of memory, panic, return garbage
// or out-of-range partitions, and assignors that fail or return an invalid plan, each
// attached to a topic or group: every one gets a clear error, the broker keeps serving and
// the other plugins keep working.
func TestMisbehavingPlugins(t *testing.T) {
	mis := wasmbuildtest.Module(t, guestDir+"misbehave")
	tenant := wasmbuildtest.Module(t, "../../plugins/examples/tenant")
	b, api := pluginBroker(t, "",
		withPlugins(func(p *config.PluginsConfig) { p.MemoryLimitBytes, p.CallTimeoutMs = 16<<20, 3000 }),
		brokertest.WithConfig(func(c *config.Config) { c.GroupInitialRebalanceDelayMs = 0 }))
	api.upload("bad", "partitioner", mis, 201)
	api.upload("badassign", "assignor", mis, 201)
	api.upload("tenant", "partitioner", tenant, 201)
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "regions", 16, map[string]*string{"partitioner": kadm.StringPtr("wasm:tenant")})

	healthy := func(after string) {
		t.Helper()
		keys := []string{"eu:alice", "us:bob", "ap:carol", "nobody"}
		code, res := api.produce("regions", keys...)
		if code != 200 {
			t.Fatalf("after %s: produce to the tenant topic: %d %+v", after, code, res)
		}
		for i, k := range keys {
			if lo, hi := tenantRange(k, 16); res.Offsets[i].Partition < lo || res.Offsets[i].Partition >= hi {
				t.Fatalf("after %s: %s went to %d, want [%d,%d)", after, k, res.Offsets[i].Partition, lo, hi)
			}
		}
		if code, body := api.do("GET", "/health", "", nil); code != 200 || string(body) != "ok\n" {
			t.Fatalf("after %s: health %d %s", after, code, body)
		}
	}
	for _, tc := range []struct{ topic, msg string }{
		{"loop", "deadline exceeded: call exceeded 3s"},
		{"oom", "out of memory: limit 16 MiB"},
		{"panic", "guest panicked: misbehave: panic on purpose for topic panic"},
		{"garbage", "invalid result from guest: partition result: 1 partitions for 3 records"},
		{"range", "invalid result from guest: partition result: record 0: partition 4 out of range [0,4)"},
	} {
		createTopic(t, adm, tc.topic, 4, map[string]*string{"partitioner": kadm.StringPtr("wasm:bad")})
		code, res := api.produce(tc.topic, "a", "b", "c")
		want := `partitioner wasm:bad failed: partitioner: wasm:bad: wasmhost: plugin "bad": partition: `
		if code != 500 || !strings.HasPrefix(res.Error, want) || !strings.Contains(res.Error, tc.msg) {
			t.Errorf("topic %s: %d %q; want 500 %q...%q", tc.topic, code, res.Error, want, tc.msg)
		}
		healthy(tc.topic)
	}
	// Kafka clients are served throughout.
	cl := newClient(t, b.Addr())
	if err := cl.ProduceSync(ctxT(t, 20*time.Second), &kgo.Record{Topic: "regions", Key: []byte("eu:dave"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	_, metrics := api.do("GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics), `streamd_plugin_failures_total{plugin="bad",use="partition"} 5`) {
		t.Errorf("metrics lack 5 partition failures of plugin bad")
	}

	// Assignors: a failing plugin and an invalid plan are refused; the member keeps its
	// (empty) previous assignment and the error is described; a working strategy fixes it.
	for _, tc := range []struct{ group, msg string }{
		{"fail-g", "misbehave: refusing to assign group fail-g"},
		{"invalid-g", "produced an invalid assignment: assignor: subscribed partitions left unassigned"},
	} {
		if err, msg := setGroupAssignor(t, cl, tc.group, "wasm:badassign"); err != nil {
			t.Fatalf("%s: %v %s", tc.group, err, msg)
		}
		cons := newClient(t, b.Addr(), kgo.ConsumerGroup(tc.group), kgo.ConsumeTopics("regions"))
		go cons.PollFetches(ctxT(t, time.Second)) // join the group
		g := waitGroup(t, api, tc.group, func(g adminGroupView) bool { return g.AssignError != "" })
		if g.State != "Stable" || !strings.Contains(g.AssignError, "wasm:badassign: ") || !strings.Contains(g.AssignError, tc.msg) {
			t.Fatalf("%s: %+v, want an assign_error with %q", tc.group, g, tc.msg)
		}
		if n := assignedPartitions(t, adm, tc.group); n != 0 {
			t.Fatalf("%s: member has %d partitions after a refused plan, want its previous (none)", tc.group, n)
		}
		if err, msg := setGroupAssignor(t, cl, tc.group, "range"); err != nil {
			t.Fatalf("%s: %v %s", tc.group, err, msg)
		}
		waitGroup(t, api, tc.group, func(g adminGroupView) bool { return g.AssignError == "" && g.AssignedBy == "range" })
		waitFor(t, tc.group+" gets all 16 partitions", func() bool { return assignedPartitions(t, adm, tc.group) == 16 })
		cons.Close()
	}
	healthy("the assignors")
}

type adminGroupView struct {
	Group       string `json:"group"`
	State       string `json:"state"`
	Assignor    string `json:"assignor"`
	AssignedBy  string `json:"assigned_by"`
	AssignError string `json:"assign_error"`
}

// waitGroup polls GET /v1/groups/{group} until ok (bounded).
func waitGroup(t *testing.T, api *adminClient, group string, ok func(adminGroupView) bool) adminGroupView {
	t.Helper()
	var g adminGroupView
	waitFor(t, "group "+group, func() bool {
		code, body := api.do("GET", "/v1/groups/"+group, "", nil)
		g = adminGroupView{}
		return code == 200 && jsonInto(body, &g) && ok(g)
	})
	return g
}

// waitFor polls cond every 50ms for up to 60s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assignedPartitions counts the partitions assigned in a Stable group (-1 otherwise).
func assignedPartitions(t *testing.T, adm *kadm.Client, group string) int {
	t.Helper()
	dg, err := adm.DescribeGroups(ctxT(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	g := dg[group]
	if g.State != "Stable" {
		return -1
	}
	n := 0
	for _, m := range g.Members {
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range c.Topics {
				n += len(tp.Partitions)
			}
		}
	}
	return n
}

// TestHotSwapUnderLoad: records produced while a partitioner is replaced all land by the
// old or the new version, none is lost; requests sent after the upload answered use the
// new version, requests answered before it started the old one.
func TestHotSwapUnderLoad(t *testing.T) {
	v1 := wasmbuildtest.Module(t, guestDir+"misbehave")
	v2 := wasmbuildtest.Module(t, "../../plugins/examples/tenant")
	b, api := pluginBroker(t, "")
	api.upload("swap", "partitioner", v1, 201)
	adm := newAdmin(t, b.Addr())
	const n = 8
	createTopic(t, adm, "swapped", n, map[string]*string{"partitioner": kadm.StringPtr("wasm:swap")})
	old, cur := localPartitioner(t, v1), localPartitioner(t, v2)

	// A Go producer runs the version it downloaded (v1) all along.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	remote, err := partitioner.FetchWasm(ctx, api.base, "swap", wasmhost.Config{CacheDir: wasmbuildtest.CompileCache(t), CallTimeout: slowCall})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	kp := partitioner.NewKgo(remote)
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kp))

	type sent struct {
		partition int32
		phase     int // 0: answered before the swap started, 2: sent after it ended, 1: during
		viaKafka  bool
	}
	var (
		mu      sync.Mutex
		records = map[string]sent{}
		phase   atomic.Int32 // 0 before, 1 during, 2 after the upload
		stop    atomic.Bool
		wg      sync.WaitGroup
		batches atomic.Int64
	)
	regions := []string{"eu:", "us:", "ap:", ""}
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; !stop.Load(); seq++ {
				keys := make([]string, 10)
				for i := range keys {
					keys[i] = fmt.Sprintf("%sg%d-%d-%d", regions[i%len(regions)], g, seq, i)
				}
				before := phase.Load()
				code, res := api.produce("swapped", keys...)
				after := phase.Load()
				if code != 200 {
					t.Errorf("produce: %d %+v", code, res)
					return
				}
				p := 1
				switch {
				case before == 2:
					p = 2
				case after == 0:
					p = 0
				}
				mu.Lock()
				for i, k := range keys {
					records[k] = sent{partition: res.Offsets[i].Partition, phase: p}
				}
				mu.Unlock()
				batches.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := 0; !stop.Load(); seq++ {
			var rs []*kgo.Record
			for i := 0; i < 10; i++ {
				rs = append(rs, &kgo.Record{Topic: "swapped", Key: []byte(fmt.Sprintf("%skgo-%d-%d", regions[i%len(regions)], seq, i))})
			}
			if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Errorf("kgo produce: %v (%v)", err, kp.Err())
				return
			}
			mu.Lock()
			for _, r := range rs {
				records[string(r.Key)] = sent{partition: r.Partition, viaKafka: true}
			}
			mu.Unlock()
		}
	}()
	waitFor(t, "traffic before the swap", func() bool { return batches.Load() >= 20 })
	phase.Store(1)
	api.upload("swap", "partitioner", v2, 201)
	phase.Store(2)
	start := batches.Load()
	waitFor(t, "traffic after the swap", func() bool { return batches.Load() >= start+20 })
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}

	mu.Lock()
	defer mu.Unlock()
	got := consumeN(t, b.Addr(), "swapped", len(records))
	if len(got) != len(records) {
		t.Fatalf("consumed %d records, produced %d", len(got), len(records))
	}
	keys := make([]string, 0, len(got))
	for _, r := range got {
		keys = append(keys, string(r.Key))
	}
	p1, p2 := placeAll(t, old, "swapped", n, keys), placeAll(t, cur, "swapped", n, keys)
	seen := map[string]bool{}
	counts := [3]int{}
	for i, r := range got {
		k := keys[i]
		s, ok := records[k]
		if !ok || seen[k] {
			t.Fatalf("record %s: unknown or duplicated", k)
		}
		seen[k] = true
		if r.Partition != s.partition {
			t.Fatalf("record %s: read from %d, acknowledged on %d", k, r.Partition, s.partition)
		}
		switch {
		case s.viaKafka && r.Partition != p1[i]:
			t.Fatalf("kgo record %s on %d, its producer's version says %d", k, r.Partition, p1[i])
		case !s.viaKafka && s.phase == 0 && r.Partition != p1[i]:
			t.Fatalf("record %s sent before the swap on %d, v1 says %d", k, r.Partition, p1[i])
		case !s.viaKafka && s.phase == 2 && r.Partition != p2[i]:
			t.Fatalf("record %s sent after the swap on %d, v2 says %d", k, r.Partition, p2[i])
		case r.Partition != p1[i] && r.Partition != p2[i]:
			t.Fatalf("record %s on %d: neither v1 (%d) nor v2 (%d)", k, r.Partition, p1[i], p2[i])
		}
		if !s.viaKafka {
			counts[s.phase]++
		}
	}
	if counts[0] == 0 || counts[2] == 0 {
		t.Fatalf("records before/during/after the swap: %v", counts)
	}
	t.Logf("%d records: %d before, %d during, %d after the swap (HTTP), rest via kgo", len(got), counts[0], counts[1], counts[2])
}

// TestPluginsSurviveRestart: uploaded plugins and their attachments are in force after a
// restart.
func TestPluginsSurviveRestart(t *testing.T) {
	mis := wasmbuildtest.Module(t, guestDir+"misbehave")
	dir := t.TempDir()
	b, api := pluginBroker(t, dir)
	api.upload("hash", "partitioner", mis, 201)
	api.upload("rr", "assignor", mis, 201)
	createTopic(t, newAdmin(t, b.Addr()), "orders", 6, map[string]*string{"partitioner": kadm.StringPtr("wasm:hash"), "partitioner.enforce": kadm.StringPtr("true")})
	if err, msg := setGroupAssignor(t, newClient(t, b.Addr()), "billing", "wasm:rr"); err != nil {
		t.Fatal(err, msg)
	}
	_, before := api.do("GET", "/v1/plugins", "", nil)
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	b, api = pluginBroker(t, dir)
	if _, after := api.do("GET", "/v1/plugins", "", nil); string(after) != string(before) {
		t.Fatalf("plugins before the restart\n%s\nafter\n%s", before, after)
	}
	code, res := api.produce("orders", keysN("k", 50)...)
	if code != 200 {
		t.Fatalf("produce after restart: %d %+v", code, res)
	}
	for i, o := range res.Offsets {
		if want := int32(fnv1a([]byte(fmt.Sprintf("k%d", i))) % 6); o.Partition != want {
			t.Fatalf("k%d on %d, want %d", i, o.Partition, want)
		}
	}
	cl := newClient(t, b.Addr())
	if v, _ := describeGroupAssignor(t, cl, "billing"); v == nil || *v != "wasm:rr" {
		t.Fatalf("group.assignor after restart: %v", v)
	}
	if msg := rawProduceError(t, b.Addr(), "orders", (int32(fnv1a([]byte("x")))%6+1)%6, []byte("x")); !strings.Contains(msg, "INVALID_RECORD") {
		t.Fatalf("partitioner.enforce after restart: %s", msg)
	}
	api.expectError("DELETE", "/v1/plugins/hash", nil, 409, "used by topic orders")
	api.expectError("DELETE", "/v1/plugins/rr", nil, 409, "used by group billing")
}
