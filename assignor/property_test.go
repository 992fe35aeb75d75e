package assignor

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"
)

// randomSpec draws a group: 1-50 members, 1-10 topics of 1-200 partitions, subscriptions
// that are all-topics, one shared subset or independent subsets, and previous ownership that
// is absent, random (conflicting, stale and invalid claims included) or a valid earlier
// sticky assignment of a slightly different group.
func randomSpec(r *rand.Rand) GroupSpec {
	nt := 1 + r.Intn(10)
	parts := make(map[string]int32)
	var topics []string
	for i := range nt {
		t := fmt.Sprintf("t%d", i)
		parts[t] = int32(1 + r.Intn(200))
		topics = append(topics, t)
	}
	if r.Intn(8) == 0 {
		parts["empty"] = 0
		topics = append(topics, "empty", "missing")
	}
	nm := 1 + r.Intn(50)
	subMode := r.Intn(3)
	shared := randomSubset(r, topics)
	spec := GroupSpec{Partitions: parts}
	for i := range nm {
		m := Member{ID: fmt.Sprintf("m-%02d-%d", r.Intn(100), i)}
		if r.Intn(3) == 0 {
			m.InstanceID = fmt.Sprintf("i-%d", r.Intn(1000)*100+i)
		}
		switch subMode {
		case 0:
			m.Topics = slices.Clone(topics)
		case 1:
			m.Topics = slices.Clone(shared)
		default:
			m.Topics = randomSubset(r, topics)
		}
		spec.Members = append(spec.Members, m)
	}
	switch r.Intn(3) {
	case 1: // random claims
		for i := range spec.Members {
			spec.Members[i].Generation = int32(1 + r.Intn(3))
		}
		for _, t := range topics {
			for p := range parts[t] + 1 { // +1: an out-of-range claim
				for range r.Intn(3) { // 0, 1 or 2 claimants
					m := &spec.Members[r.Intn(nm)]
					m.Owned = append(m.Owned, TopicPartition{t, p})
				}
			}
		}
	case 2: // a valid previous sticky assignment of a group with members added/removed
		prev := spec
		prev.Members = nil
		for _, m := range spec.Members {
			if r.Intn(5) != 0 {
				prev.Members = append(prev.Members, m)
			}
		}
		if r.Intn(2) == 0 {
			prev.Members = append(prev.Members, Member{ID: "gone", Topics: slices.Clone(topics)})
		}
		a, err := Sticky().Assign(prev)
		if err != nil {
			panic(err)
		}
		for i := range spec.Members {
			spec.Members[i].Owned = a[spec.Members[i].ID]
			spec.Members[i].Generation = 7
		}
	}
	return spec
}

func randomSubset(r *rand.Rand, topics []string) []string {
	var s []string
	for _, t := range topics {
		if r.Intn(2) == 0 {
			s = append(s, t)
		}
	}
	if len(s) == 0 && r.Intn(4) != 0 {
		s = append(s, topics[r.Intn(len(topics))])
	}
	return s
}

// shuffled returns a deep copy of spec with members, subscriptions and owned lists permuted.
func shuffled(r *rand.Rand, spec GroupSpec) GroupSpec {
	out := GroupSpec{Partitions: spec.Partitions}
	for _, m := range spec.Members {
		m.Topics = slices.Clone(m.Topics)
		m.Owned = slices.Clone(m.Owned)
		r.Shuffle(len(m.Topics), func(i, j int) { m.Topics[i], m.Topics[j] = m.Topics[j], m.Topics[i] })
		r.Shuffle(len(m.Owned), func(i, j int) { m.Owned[i], m.Owned[j] = m.Owned[j], m.Owned[i] })
		out.Members = append(out.Members, m)
	}
	r.Shuffle(len(out.Members), func(i, j int) { out.Members[i], out.Members[j] = out.Members[j], out.Members[i] })
	return out
}

// subsets returns each member's set of existing subscribed topics and whether all members
// with a non-empty set share it.
func subsets(spec GroupSpec) (map[string]map[string]bool, bool) {
	sets := make(map[string]map[string]bool)
	var first map[string]bool
	identical := true
	for _, m := range spec.Members {
		s := make(map[string]bool)
		for _, t := range m.Topics {
			if spec.Partitions[t] > 0 {
				s[t] = true
			}
		}
		sets[m.ID] = s
		if len(s) == 0 {
			continue
		}
		if first == nil {
			first = s
		} else if !reflect.DeepEqual(first, s) {
			identical = false
		}
	}
	return sets, identical
}

func spread(spec GroupSpec, a Assignment) int {
	sets, _ := subsets(spec)
	lo, hi := -1, 0
	for _, m := range spec.Members {
		if len(sets[m.ID]) == 0 {
			continue
		}
		n := len(a[m.ID])
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return hi - max(lo, 0)
}

// currentOwners applies the documented claim rule: valid claims only, highest generation
// wins, ties go to the earlier member in Kafka's member order.
func currentOwners(spec GroupSpec) map[TopicPartition]*Member {
	sets, _ := subsets(spec)
	ms := make([]*Member, len(spec.Members))
	for i := range spec.Members {
		ms[i] = &spec.Members[i]
	}
	slices.SortFunc(ms, compareMembers)
	own := make(map[TopicPartition]*Member)
	for _, m := range ms {
		for _, tp := range m.Owned {
			if !sets[m.ID][tp.Topic] || tp.Partition < 0 || tp.Partition >= spec.Partitions[tp.Topic] {
				continue
			}
			if o := own[tp]; o == nil || m.Generation > o.Generation {
				own[tp] = m
			}
		}
	}
	return own
}

// costReducingPath reports a chain of members, each able to hand a partition it holds to
// the next, from a member to one with at least two partitions fewer; "" if none exists.
func costReducingPath(spec GroupSpec, a Assignment) string {
	sets, _ := subsets(spec)
	held := make(map[string]map[string]bool) // member → topics it holds
	for id, tps := range a {
		held[id] = make(map[string]bool)
		for _, tp := range tps {
			held[id][tp.Topic] = true
		}
	}
	for _, src := range spec.Members {
		seen := map[string]bool{src.ID: true}
		queue := []string{src.ID}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			for _, w := range spec.Members {
				if seen[w.ID] {
					continue
				}
				for t := range held[v] {
					if sets[w.ID][t] {
						seen[w.ID] = true
						queue = append(queue, w.ID)
						if len(a[w.ID]) <= len(a[src.ID])-2 {
							return fmt.Sprintf("%s (%d) ⇝ %s (%d)", src.ID, len(a[src.ID]), w.ID, len(a[w.ID]))
						}
						break
					}
				}
			}
		}
	}
	return ""
}

func withOwned(spec GroupSpec, a Assignment, gen int32) GroupSpec {
	out := GroupSpec{Partitions: spec.Partitions}
	for _, m := range spec.Members {
		m.Owned = a[m.ID]
		m.Generation = gen
		out.Members = append(out.Members, m)
	}
	return out
}

func checkShape(t *testing.T, spec GroupSpec, a Assignment) {
	t.Helper()
	if len(a) != len(spec.Members) {
		t.Fatalf("assignment has %d members, spec %d", len(a), len(spec.Members))
	}
	for id, tps := range a {
		if !slices.IsSortedFunc(tps, func(x, y TopicPartition) int {
			return cmp.Or(cmp.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
		}) {
			t.Fatalf("list of %s not sorted: %v", id, tps)
		}
	}
}

const propertyRuns = 300

func TestProperties(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	maxRounds := 0
	for run := range propertyRuns {
		spec := randomSpec(r)
		_, identical := subsets(spec)
		results := make(map[string]Assignment)
		for _, as := range []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky(), Uniform()} {
			name := as.Name()
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("run %d %s (%d members, identical=%v): %s", run, name, len(spec.Members), identical, fmt.Sprintf(format, args...))
			}
			a, err := as.Assign(spec)
			if err != nil {
				fail("Assign: %v", err)
			}
			results[name] = a
			checkShape(t, spec, a)
			err = Validate(spec, a)
			if name == "cooperative-sticky" {
				if err != nil && !errors.Is(err, ErrUnassigned) {
					fail("Validate: %v", err)
				}
			} else if err != nil {
				fail("Validate: %v", err)
			}
			b, err := as.Assign(shuffled(r, spec))
			if err != nil || !reflect.DeepEqual(a, b) {
				fail("not deterministic under shuffled input (err %v)", err)
			}
			switch name {
			case "range":
				checkRangeBalance(t, spec, a)
			case "roundrobin":
				if identical && spread(spec, a) > 1 {
					fail("spread %d with identical subscriptions", spread(spec, a))
				}
			case "sticky", "uniform":
				if p := costReducingPath(spec, a); p != "" {
					fail("not balanced: cost-reducing path %s", p)
				}
				if identical {
					if d := spread(spec, a); d > 1 {
						fail("spread %d with identical subscriptions", d)
					}
					if kept, best := keptOwned(spec, a); kept != best {
						fail("kept %d owned partitions, %d possible", kept, best)
					}
				}
				again, err := as.Assign(withOwned(spec, a, 100))
				if err != nil || !reflect.DeepEqual(a, again) {
					fail("own output as previous assignment is not a fixed point (err %v)", err)
				}
			case "cooperative-sticky":
				checkNoHandover(t, spec, a)
				for id, tps := range a {
					target := results["sticky"][id]
					for _, tp := range tps {
						if !slices.Contains(target, tp) {
							fail("%s got %v, not in the sticky target", id, tp)
						}
					}
				}
				rounds := cooperativeRounds(t, spec, a, identical)
				maxRounds = max(maxRounds, rounds)
			}
		}
	}
	t.Logf("cooperative rebalances needed to complete: at most %d", maxRounds)
}

func checkRangeBalance(t *testing.T, spec GroupSpec, a Assignment) {
	t.Helper()
	sets, _ := subsets(spec)
	for topic := range spec.Partitions {
		lo, hi, any := 1<<30, 0, false
		for _, m := range spec.Members {
			if !sets[m.ID][topic] {
				continue
			}
			n := 0
			for _, tp := range a[m.ID] {
				if tp.Topic == topic {
					n++
				}
			}
			lo, hi, any = min(lo, n), max(hi, n), true
		}
		if any && hi-lo > 1 {
			t.Fatalf("range: topic %s spread %d", topic, hi-lo)
		}
	}
}

// keptOwned returns how many partitions stayed with their current owner and the most that
// a balanced assignment could keep for identical subscriptions.
func keptOwned(spec GroupSpec, a Assignment) (kept, best int) {
	own := currentOwners(spec)
	counts := make(map[string]int)
	for tp, m := range own {
		counts[m.ID]++
		if slices.Contains(a[m.ID], tp) {
			kept++
		}
	}
	sets, _ := subsets(spec)
	P, M := 0, 0
	for _, m := range spec.Members {
		if len(sets[m.ID]) > 0 {
			M++
		}
	}
	for _, m := range spec.Members {
		if len(sets[m.ID]) > 0 {
			for t := range sets[m.ID] {
				P += int(spec.Partitions[t])
			}
			break
		}
	}
	if M == 0 {
		return kept, 0
	}
	minQ, extra, over := P/M, P%M, 0
	for _, c := range counts {
		best += min(c, minQ)
		if c > minQ {
			over++
		}
	}
	return kept, best + min(extra, over)
}

// checkNoHandover: a partition someone else still lists in Owned may only be given to a
// member with a valid claim at least as recent as every other valid claim.
func checkNoHandover(t *testing.T, spec GroupSpec, a Assignment) {
	t.Helper()
	sets, _ := subsets(spec)
	claims := make(map[TopicPartition][]*Member)
	for i := range spec.Members {
		m := &spec.Members[i]
		for _, tp := range m.Owned {
			claims[tp] = append(claims[tp], m)
		}
	}
	for id, tps := range a {
		for _, tp := range tps {
			cs := claims[tp]
			if len(cs) == 0 {
				continue
			}
			var mine *Member
			for _, c := range cs {
				if c.ID == id {
					mine = c
				}
			}
			if mine == nil {
				t.Fatalf("cooperative: %v handed to %s while still owned by %s", tp, id, cs[0].ID)
			}
			for _, c := range cs {
				if sets[c.ID][tp.Topic] && c.Generation > mine.Generation {
					t.Fatalf("cooperative: %v kept by stale %s (gen %d) over %s (gen %d)", tp, id, mine.Generation, c.ID, c.Generation)
				}
			}
		}
	}
}

// cooperativeRounds replays follow-up rebalances (members report what they were given) until
// the assignment is complete. With identical subscriptions the second round must complete
// it without revoking anything; otherwise it must converge within a few rounds.
func cooperativeRounds(t *testing.T, spec GroupSpec, a Assignment, identical bool) int {
	t.Helper()
	for round := 1; ; round++ {
		if Validate(spec, a) == nil {
			return round
		}
		if round == 5 {
			t.Fatalf("cooperative: incomplete after %d rounds", round)
		}
		spec = withOwned(spec, a, int32(100+round))
		next, err := CooperativeSticky().Assign(spec)
		if err != nil {
			t.Fatal(err)
		}
		checkNoHandover(t, spec, next)
		if identical {
			for id, tps := range a {
				for _, tp := range tps {
					if !slices.Contains(next[id], tp) {
						t.Fatalf("cooperative round %d revoked %v from %s", round+1, tp, id)
					}
				}
			}
			if err := Validate(spec, next); err != nil {
				t.Fatalf("cooperative round %d: %v", round+1, err)
			}
		}
		a = next
	}
}

// A balanced, valid previous assignment with identical subscriptions survives unchanged.
func TestStickyKeepsBalancedAssignment(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for range 50 {
		spec := randomSpec(r)
		for i := range spec.Members {
			spec.Members[i].Topics = []string{"t0", "t1", "t2"}
			spec.Members[i].Owned = nil
		}
		spec.Partitions = map[string]int32{"t0": int32(1 + r.Intn(50)), "t1": int32(1 + r.Intn(50)), "t2": 3}
		prev, err := RoundRobin().Assign(spec) // balanced and valid, not what sticky would pick
		if err != nil {
			t.Fatal(err)
		}
		for _, as := range []Assignor{Sticky(), Uniform(), CooperativeSticky()} {
			got, err := as.Assign(withOwned(spec, prev, 3))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, prev) {
				t.Fatalf("%s moved partitions of a balanced assignment:\nprev %v\ngot  %v", as.Name(), prev, got)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	spec := GroupSpec{
		Members: []Member{
			{ID: "a", Topics: []string{"x", "y"}},
			{ID: "b", Topics: []string{"x"}},
		},
		Partitions: map[string]int32{"x": 2, "y": 1, "z": 4},
	}
	tp := func(t string, p int32) TopicPartition { return TopicPartition{t, p} }
	for _, c := range []struct {
		name string
		a    Assignment
		want error
	}{
		{"complete", Assignment{"a": {tp("x", 0), tp("y", 0)}, "b": {tp("x", 1)}}, nil},
		{"missing", Assignment{"a": {tp("x", 0)}, "b": {tp("x", 1)}}, ErrUnassigned},
		{"unknown member", Assignment{"c": {tp("x", 0)}}, ErrUnknownMember},
		{"unknown topic", Assignment{"a": {tp("w", 0)}}, ErrUnknownTopic},
		{"out of range", Assignment{"a": {tp("x", 2)}}, ErrUnknownTopic},
		{"negative", Assignment{"a": {tp("x", -1)}}, ErrUnknownTopic},
		{"not subscribed", Assignment{"b": {tp("y", 0)}}, ErrNotSubscribed},
		{"unsubscribed topic", Assignment{"a": {tp("z", 0)}}, ErrNotSubscribed},
		{"twice", Assignment{"a": {tp("x", 0), tp("y", 0)}, "b": {tp("x", 0), tp("x", 1)}}, ErrDuplicate},
		{"twice same member", Assignment{"a": {tp("x", 0), tp("x", 0), tp("x", 1), tp("y", 0)}}, ErrDuplicate},
	} {
		err := Validate(spec, c.a)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	for _, as := range []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky(), Uniform()} {
		_, err := as.Assign(GroupSpec{Members: []Member{{ID: "a"}, {ID: "a"}}})
		if !errors.Is(err, ErrDuplicateMember) {
			t.Errorf("%s: duplicate member: %v", as.Name(), err)
		}
		_, err = as.Assign(GroupSpec{Members: []Member{{ID: ""}}})
		if !errors.Is(err, ErrEmptyMemberID) {
			t.Errorf("%s: empty id: %v", as.Name(), err)
		}
		a, err := as.Assign(GroupSpec{})
		if err != nil || len(a) != 0 {
			t.Errorf("%s: empty group: %v %v", as.Name(), a, err)
		}
	}
}

func TestByName(t *testing.T) {
	for _, n := range []string{"range", "roundrobin", "sticky", "cooperative-sticky", "uniform"} {
		as, ok := ByName(n)
		if !ok || as.Name() != n {
			t.Errorf("ByName(%q) = %v, %v", n, as, ok)
		}
	}
	if _, ok := ByName("Range"); ok {
		t.Error("ByName is case-sensitive like Kafka protocol names")
	}
}
