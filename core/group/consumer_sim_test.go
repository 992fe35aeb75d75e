package group

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestConsumerSimulation drives a group of simulated clients that honour their
// assignments (a client drops partitions missing from an assignment and only then adds
// new ones) through random joins, leaves, crashes, subscription and partition count
// changes and strategy switches: no partition is ever owned by two clients, and once the
// churn stops the group converges to its target assignment.
func TestConsumerSimulation(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { simulate(t, seed) })
	}
}

type simClient struct {
	id    string
	epoch int32
	owned Partitions
	topic []string
}

func simulate(t *testing.T, seed int64) {
	c, clk, ts := consumerCoordinator(t, map[string]int32{"a": 5, "b": 3})
	rnd := newRand(seed)
	clients := map[string]*simClient{}
	next := 0
	heartbeat := func(cl *simClient, full bool) {
		r := beatHB(cl.id, cl.epoch, nil)
		if full {
			r.Owned = clonePartitions(cl.owned)
			r.Topics = cl.topic
		}
		res := c.ConsumerHeartbeat(r)
		if res.Err != nil {
			if errors.Is(res.Err, kerr.UnknownMemberID) || errors.Is(res.Err, kerr.FencedMemberEpoch) {
				delete(clients, cl.id) // fenced: the client abandons its partitions
				return
			}
			t.Fatalf("seed %d: heartbeat %s: %v", seed, cl.id, res.Err)
		}
		cl.epoch = res.MemberEpoch
		if res.Assignment != nil {
			kept := Partitions{}
			for tp, parts := range cl.owned {
				for _, p := range parts {
					if slices.Contains(res.Assignment[tp], p) {
						kept[tp] = append(kept[tp], p)
					}
				}
			}
			cl.owned = kept // revoke first (an acknowledgement follows in a full heartbeat)...
			for tp, parts := range res.Assignment {
				for _, p := range parts {
					if !slices.Contains(cl.owned[tp], p) {
						cl.owned[tp] = append(cl.owned[tp], p) // ...then take what is new
					}
				}
			}
		}
		checkOwners(t, c, "g")
		owner := map[TopicPartition]string{}
		for _, o := range clients {
			for tp, parts := range o.owned {
				for _, p := range parts {
					k := TopicPartition{tp, p}
					if prev, dup := owner[k]; dup {
						t.Fatalf("seed %d: %v owned by clients %s and %s", seed, k, prev, o.id)
					}
					owner[k] = o.id
				}
			}
		}
	}
	subs := [][]string{{"a"}, {"b"}, {"a", "b"}}
	for step := 0; step < 400; step++ {
		ids := slices.Sorted(maps.Keys(clients))
		switch x := rnd.intn(100); {
		case x < 8 && len(clients) < 6:
			id := fmt.Sprintf("m%d", next)
			next++
			cl := &simClient{id: id, owned: Partitions{}, topic: subs[rnd.intn(len(subs))]}
			res := c.ConsumerHeartbeat(joinHB(id, cl.topic...))
			if res.Err != nil {
				t.Fatalf("seed %d: join: %v", seed, res.Err)
			}
			clients[id] = cl
			cl.epoch = res.MemberEpoch
			for tp, parts := range res.Assignment {
				cl.owned[tp] = slices.Clone(parts)
			}
		case x < 11 && len(ids) > 0:
			cl := clients[ids[rnd.intn(len(ids))]]
			c.ConsumerHeartbeat(beatHB(cl.id, LeaveEpoch, nil))
			delete(clients, cl.id)
		case x < 13 && len(ids) > 0: // crash: silent until the session expires
			cl := clients[ids[rnd.intn(len(ids))]]
			delete(clients, cl.id)
			clk.add(5 * time.Second)
			for _, o := range clients {
				heartbeat(o, true)
			}
			clk.add(6 * time.Second)
			c.expireAll()
			// Members fenced meanwhile (a revocation outlasting the rebalance timeout) are
			// zombies until their next heartbeat fails: they stop counting as owners.
			live := map[string]bool{}
			for _, m := range c.ConsumerDescribe("g").Members {
				live[m.MemberID] = true
			}
			for id := range clients {
				if !live[id] {
					delete(clients, id)
				}
			}
		case x < 15 && len(ids) > 0:
			cl := clients[ids[rnd.intn(len(ids))]]
			cl.topic = subs[rnd.intn(len(subs))]
			heartbeat(cl, true)
		case x < 16:
			ts.set("a", ts.parts["a"]+1)
			c.TopicsChanged()
		case x < 18:
			_ = c.SetAssignor("g", []string{"", "range", "uniform", "roundrobin", "sticky"}[rnd.intn(5)])
		case len(ids) > 0:
			heartbeat(clients[ids[rnd.intn(len(ids))]], rnd.intn(2) == 0)
		}
	}
	// Churn stops: full heartbeats converge the group.
	for range 20 {
		for _, id := range slices.Sorted(maps.Keys(clients)) {
			if cl := clients[id]; cl != nil {
				heartbeat(cl, true)
			}
		}
	}
	d := c.ConsumerDescribe("g")
	if len(clients) == 0 {
		return
	}
	if d.State != "Stable" {
		t.Fatalf("seed %d: not stable after the churn: %+v", seed, d)
	}
	for _, m := range d.Members {
		if !equalPartitions(m.Assigned, m.Target) || !equalPartitions(m.Assigned, clients[m.MemberID].owned) {
			t.Fatalf("seed %d: member %s assigned %v, target %v, client owns %v", seed, m.MemberID, m.Assigned, m.Target, clients[m.MemberID].owned)
		}
	}
}

// rnd is a small deterministic generator (xorshift) so each seed replays exactly.
type rnd struct{ s uint64 }

func newRand(seed int64) *rnd { return &rnd{uint64(seed)*0x9E3779B97F4A7C15 | 1} }

func (r *rnd) intn(n int) int {
	r.s ^= r.s << 13
	r.s ^= r.s >> 7
	r.s ^= r.s << 17
	return int(r.s % uint64(n))
}
