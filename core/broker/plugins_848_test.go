package broker_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
)

// TestWasmAssignorConsumerGroup: an uploaded assignor is the server assignor of a KIP-848
// group (kgo's ServerSideBalancer): the members get the plugin's plan (misbehave assigns
// round-robin over the sorted member ids, which neither uniform nor range would), the
// group is described as assigned by it, and a plugin that fails is refused: the members
// keep their assignment and the error is shown.
func TestWasmAssignorConsumerGroup(t *testing.T) {
	mis := wasmbuildtest.Module(t, guestDir+"misbehave")
	b, api := pluginBroker(t, "", brokertest.WithConfig(group848Config),
		withPlugins(func(p *config.PluginsConfig) { p.CallTimeoutMs = 10000 }))
	api.upload("rr", "assignor", mis, 201)
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "wasm848", 6, nil)
	cl := newClient(t, b.Addr())

	roundRobin := func(g kadm.DescribedConsumerGroup) error {
		if g.AssignorName != "wasm:rr" {
			return fmt.Errorf("assignor %q", g.AssignorName)
		}
		got := partitionsOf(g, "wasm848")
		ids := make([]string, 0, len(got))
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for i, id := range ids {
			var want []int32
			for p := int32(i); p < 6; p += int32(len(ids)) {
				want = append(want, p)
			}
			if !slices.Equal(got[id], want) {
				return fmt.Errorf("member %d (%s) has %v, want %v", i, id, got[id], want)
			}
		}
		return nil
	}

	// A group whose name makes misbehave assign normally.
	if err, msg := setGroupAssignor(t, cl, "good848", "wasm:rr"); err != nil {
		t.Fatalf("set group.assignor: %v: %s", err, msg)
	}
	own := newOwnership()
	start848(t, b.Addr(), "good848", "a", []string{"wasm848"}, own)
	start848(t, b.Addr(), "good848", "b", []string{"wasm848"}, own)
	layout848(t, adm, "good848", "wasm848", 2, 6, roundRobin)
	if g := waitGroup(t, api, "good848", func(g adminGroupView) bool { return g.AssignedBy == "wasm:rr" }); g.AssignError != "" {
		t.Fatalf("assign error %q on a working plugin", g.AssignError)
	}
	own.check(t)

	// A group whose name makes misbehave fail: formed with range first, then switched to
	// the plugin; the refusal keeps the range layout and is described.
	if err, msg := setGroupAssignor(t, cl, "fail848", "range"); err != nil {
		t.Fatalf("set group.assignor: %v: %s", err, msg)
	}
	own2 := newOwnership() // each group owns every partition once
	start848(t, b.Addr(), "fail848", "c", []string{"wasm848"}, own2)
	start848(t, b.Addr(), "fail848", "d", []string{"wasm848"}, own2)
	before := partitionsOf(layout848(t, adm, "fail848", "wasm848", 2, 6, nil), "wasm848")
	if err, msg := setGroupAssignor(t, cl, "fail848", "wasm:rr"); err != nil {
		t.Fatalf("set group.assignor: %v: %s", err, msg)
	}
	g := waitGroup(t, api, "fail848", func(g adminGroupView) bool { return g.AssignError != "" })
	if !strings.Contains(g.AssignError, "misbehave: refusing to assign group fail848") {
		t.Fatalf("assign error %q", g.AssignError)
	}
	after := partitionsOf(layout848(t, adm, "fail848", "wasm848", 2, 6, nil), "wasm848")
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("assignment changed after a refused plan: %v, before %v", after, before)
	}
	own2.check(t)
}
