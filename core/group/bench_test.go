package group

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Rebalance benchmarks: members are goroutines calling Join/Sync directly, with no
// configured delay (InitialRebalanceDelay 0). A Stable member learns of a rebalance as its
// heartbeat would tell it: it calls Heartbeat every benchPoll and rejoins at once on
// REBALANCE_IN_PROGRESS (so a measured time includes up to one poll interval).
//
//	go test ./core/group -run '^$' -bench Rebalance -benchtime 20x

const benchPoll = time.Millisecond

// benchMember runs one member until stop: join (with the MEMBER_ID_REQUIRED round trip),
// sync (the leader assigns every member one byte), report its generation on synced, then
// heartbeat until the group rebalances, and again.
func benchMember(c *Coordinator, r JoinRequest, stop <-chan struct{}, synced chan<- int32) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		res, ch := c.Join(r)
		if ch != nil {
			select {
			case res = <-ch:
			case <-stop:
				return
			}
		}
		if errors.Is(res.Err, kerr.MemberIDRequired) {
			r.MemberID = res.MemberID
			continue
		}
		if res.Err != nil {
			if errors.Is(res.Err, kerr.UnknownMemberID) {
				r.MemberID = ""
			}
			continue
		}
		r.MemberID = res.MemberID
		var plan map[string][]byte
		if res.LeaderID == res.MemberID {
			plan = make(map[string][]byte, len(res.Members))
			for _, m := range res.Members {
				plan[m.MemberID] = []byte{1}
			}
		}
		sres, sch := c.Sync(r.Group, res.Generation, r.MemberID, "", r.ProtocolType, res.Protocol, plan)
		if sch != nil {
			select {
			case sres = <-sch:
			case <-stop:
				return
			}
		}
		if sres.Err != nil {
			continue
		}
		select {
		case synced <- res.Generation:
		case <-stop:
			return
		}
		for {
			select {
			case <-stop:
				return
			case <-time.After(benchPoll):
			}
			if c.Heartbeat(r.Group, res.Generation, r.MemberID, "") != nil {
				break
			}
		}
	}
}

func benchJoinReq(grp string, i int) JoinRequest {
	return JoinRequest{Group: grp, ClientID: fmt.Sprintf("m%d", i), ProtocolType: "consumer",
		Protocols:      []Protocol{{Name: "range", Metadata: []byte("subscription")}},
		SessionTimeout: 30 * time.Second, RebalanceTimeout: 30 * time.Second, RequireKnownMember: true}
}

// benchGroup is one group of benchMember goroutines.
type benchGroup struct {
	c      *Coordinator
	name   string
	stop   chan struct{}
	done   chan struct{}
	synced chan int32
	n      int // members started
	counts map[int32]int
}

func newBenchGroup(c *Coordinator, name string) *benchGroup {
	return &benchGroup{c: c, name: name, stop: make(chan struct{}), done: make(chan struct{}, 1000),
		synced: make(chan int32, 1000), counts: map[int32]int{}}
}

func (g *benchGroup) add(k int) {
	for range k {
		r := benchJoinReq(g.name, g.n)
		g.n++
		go func() {
			benchMember(g.c, r, g.stop, g.synced)
			g.done <- struct{}{}
		}()
	}
}

// waitStable waits until every started member has synced in one generation, i.e. the
// group is Stable with all of them.
func (g *benchGroup) waitStable(tb testing.TB) int32 {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case gen := <-g.synced:
			g.counts[gen]++
			if g.counts[gen] == g.n {
				return gen
			}
		case <-timeout:
			tb.Fatalf("group %s: not Stable with %d members after 30s: %v", g.name, g.n, g.counts)
		}
	}
}

func (g *benchGroup) close() {
	close(g.stop)
	for range g.n {
		<-g.done
	}
}

func benchCoordinator(b *testing.B) *Coordinator {
	c := New(Config{MinSessionTimeout: time.Millisecond, MaxSessionTimeout: time.Minute, Tick: time.Second})
	b.Cleanup(c.Close)
	return c
}

// BenchmarkRebalanceJoin100: a 100th member joins a Stable group of 99; time until all
// 100 are Stable in the new generation.
func BenchmarkRebalanceJoin100(b *testing.B) {
	c := benchCoordinator(b)
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		g := newBenchGroup(c, fmt.Sprintf("join-%d", i))
		g.add(99)
		before := g.waitStable(b)
		if st := c.Describe(g.name); st.State != Stable || len(st.Members) != 99 {
			b.Fatalf("setup: %v with %d members", st.State, len(st.Members))
		}
		b.StartTimer()
		t0 := time.Now()
		g.add(1)
		after := g.waitStable(b)
		total += time.Since(t0)
		b.StopTimer()
		if after <= before {
			b.Fatalf("generation %d after the join, was %d", after, before)
		}
		g.close()
	}
	b.ReportMetric(float64(total)/float64(b.N)/1e6, "ms/rebalance")
}

// BenchmarkRebalanceFresh100: 100 members join a new group at once; time until all 100
// are Stable in one generation.
func BenchmarkRebalanceFresh100(b *testing.B) {
	c := benchCoordinator(b)
	var total time.Duration
	for i := range b.N {
		g := newBenchGroup(c, fmt.Sprintf("fresh-%d", i))
		t0 := time.Now()
		g.add(100)
		g.waitStable(b)
		total += time.Since(t0)
		b.StopTimer()
		g.close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(b.N)/1e6, "ms/form")
}
