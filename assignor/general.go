package assignor

import (
	"cmp"
	"slices"
)

// assignGeneral handles differing subscriptions. Every valid owned partition is kept, each
// free partition goes to its least-loaded subscriber (topics with fewer subscribers first),
// then load is evened out by moving partitions along shortest "cost-reducing paths": a
// chain m0 → m1 → … → mk in which each member hands one partition to the next (who must be
// subscribed to its topic) and load(mk) ≤ load(m0)-2. A state without such a path
// minimizes the sum of squared loads over all valid assignments (Harvey et al.,
// "Semi-matchings for bipartite graphs and load balancing"), so the result is as balanced as
// the subscriptions allow and members with identical subscriptions differ by at most one.
// Partitions a member did not own before are handed on before its own.
func assignGeneral(ix *index, cur []int32) []int32 {
	T := len(ix.topics)
	b := &balancer{ix: ix, load: make([]int, len(ix.members)), held: make([]holding, len(ix.members)*T)}
	target := slices.Clone(cur)
	for g, o := range cur {
		if o >= 0 {
			b.load[o]++
			h := b.at(int(o), ix.topicOf(g))
			h.kept = append(h.kept, int32(g))
		}
	}
	topics := make([]int, T)
	for i := range topics {
		topics[i] = i
	}
	slices.SortStableFunc(topics, func(a, c int) int { return cmp.Compare(len(ix.subs[a]), len(ix.subs[c])) })
	for _, ti := range topics {
		for g := ix.base[ti]; g < ix.base[ti+1]; g++ {
			if target[g] >= 0 {
				continue
			}
			best := -1
			for _, mi := range ix.subs[ti] {
				if best < 0 || b.load[mi] < b.load[best] {
					best = mi
				}
			}
			target[g] = int32(best)
			b.load[best]++
			h := b.at(best, ti)
			h.fresh = append(h.fresh, int32(g))
		}
	}
	b.balance()
	for mi := range ix.members {
		for ti := range T {
			h := b.at(mi, ti)
			for _, g := range h.fresh {
				target[g] = int32(mi)
			}
			for _, g := range h.kept {
				target[g] = int32(mi)
			}
		}
	}
	return target
}

func (ix *index) topicOf(g int) int {
	// base is ascending; find the last base[t] ≤ g.
	t, _ := slices.BinarySearch(ix.base, g+1)
	return t - 1
}

// holding is what one member holds of one topic: partitions it owned before (kept) and
// partitions it received in this assignment (fresh).
type holding struct{ kept, fresh []int32 }

type balancer struct {
	ix   *index
	load []int
	held []holding // member*T + topic
	// BFS scratch, stamped per search / per round.
	seen, dead   []int
	parent, via  []int
	stamp, round int
	queue        []int
}

func (b *balancer) at(mi, ti int) *holding { return &b.held[mi*len(b.ix.topics)+ti] }

func (b *balancer) balance() {
	n := len(b.ix.members)
	b.seen, b.dead = make([]int, n), make([]int, n)
	b.parent, b.via = make([]int, n), make([]int, n)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	for {
		b.round++
		slices.SortStableFunc(order, func(x, y int) int {
			if c := cmp.Compare(b.load[y], b.load[x]); c != 0 {
				return c
			}
			return cmp.Compare(x, y)
		})
		moved := false
		for _, src := range order {
			if b.load[src] < 2 {
				break
			}
			if b.dead[src] == b.round {
				continue
			}
			if b.search(src) {
				moved = true
				break
			}
		}
		if !moved {
			return
		}
	}
}

// search looks for a shortest cost-reducing path from src and applies it. When there is
// none, every member it reached is marked dead for this round: such a member's own load is
// at most src's (sources are tried in descending load order) and everything it reaches has
// load ≥ load(src)-1, so it cannot start a path either until something moves.
func (b *balancer) search(src int) bool {
	b.stamp++
	b.seen[src] = b.stamp
	b.queue = append(b.queue[:0], src)
	limit := b.load[src] - 2
	for qi := 0; qi < len(b.queue); qi++ {
		v := b.queue[qi]
		for _, ti := range b.ix.mtopics[v] {
			h := b.at(v, ti)
			if len(h.kept)+len(h.fresh) == 0 {
				continue
			}
			for _, w := range b.ix.subs[ti] {
				if b.seen[w] == b.stamp || b.dead[w] == b.round {
					continue
				}
				b.seen[w], b.parent[w], b.via[w] = b.stamp, v, ti
				if b.load[w] <= limit {
					b.shift(src, w)
					return true
				}
				b.queue = append(b.queue, w)
			}
		}
	}
	for _, v := range b.queue {
		b.dead[v] = b.round
	}
	return false
}

// shift moves one partition along each edge of the path ending at dst.
func (b *balancer) shift(src, dst int) {
	for w := dst; w != src; {
		v, ti := b.parent[w], b.via[w]
		from, to := b.at(v, ti), b.at(w, ti)
		var g int32
		if k := len(from.fresh); k > 0 {
			g, from.fresh = from.fresh[k-1], from.fresh[:k-1]
		} else {
			k = len(from.kept)
			g, from.kept = from.kept[k-1], from.kept[:k-1]
		}
		to.fresh = append(to.fresh, g)
		w = v
	}
	b.load[src]--
	b.load[dst]++
}
