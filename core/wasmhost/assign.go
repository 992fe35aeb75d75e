package wasmhost

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
)

// GroupSpec is the input of an assignor.
type GroupSpec struct {
	Group   string   `json:"group"`
	Members []Member `json:"members"`
	// Topics maps topics to partition counts. Topics that members subscribe to or own but
	// that are absent (or have a count ≤ 0) are passed to the plugin with 0 partitions.
	Topics map[string]int32 `json:"topics"`
}

// Member is one member of a group.
type Member struct {
	ID         string             `json:"id"`
	InstanceID string             `json:"instance_id,omitempty"` // group.instance.id, "" if dynamic
	Rack       string             `json:"rack,omitempty"`        // client.rack, "" if unknown
	Topics     []string           `json:"topics"`                // subscription (order and duplicates do not matter)
	UserData   []byte             `json:"user_data,omitempty"`
	Owned      map[string][]int32 `json:"owned,omitempty"`
	Generation int32              `json:"generation,omitempty"` // generation of Owned; -1 if unknown
}

// Assignment is the result of an assignor. The host has checked it: every partition goes
// to at most one member, and only to a member subscribed to its topic (with Unassigned,
// that is what assignor.Validate checks, so a caller need not validate again).
type Assignment struct {
	// Members maps member id -> topic -> partitions (ascending). Every member of the spec
	// has an entry; a member without partitions maps to a nil map.
	Members map[string]map[string][]int32 `json:"members"`
	// Lists holds the same assignment as member id -> partitions sorted by (topic,
	// partition); every member has an entry, possibly empty.
	Lists map[string][]TopicPartition `json:"-"`
	// Unassigned counts the partitions that no member got among those of the topics that
	// exist and that at least one member subscribes to (a cooperative assignor's first
	// phase leaves partitions out on purpose; other assignors should not).
	Unassigned int `json:"-"`
}

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// maxPartitions bounds the total partition count of a spec's topics (as the SDK does).
const maxPartitions = 1 << 24

// Assign input layout, ABI v2 (docs/plugin-abi.md): a header of (count, offset) pairs,
// then the tables, then the strings.
const (
	assignHeaderSize = 48
	topicEntrySize   = 12 // name_off name_len partitions
	subEntrySize     = 8  // first count (into the subscription topic list)
	memberEntrySize  = 48 // id, instance id, rack, user data (off,len each), subscription, owned first/count, generation
	ownedEntrySize   = 8  // topic index, partition
)

// assignPlan is a GroupSpec normalized for encoding and for checking the result.
type assignPlan struct {
	topics   []string // sorted
	parts    []int32  // partition count per topic (≥ 0)
	subs     [][]uint32
	memberSb []int    // subscription index per member
	subBits  [][]bool // subscription → topic → subscribed
	wanted   []bool   // topic → some member subscribes to it
	owned    [][]uint64
	total    int
}

func planAssign(spec *GroupSpec) (*assignPlan, error) {
	pl := &assignPlan{}
	ids := make(map[string]struct{}, len(spec.Members))
	for i := range spec.Members {
		id := spec.Members[i].ID
		if _, dup := ids[id]; dup {
			return nil, fmt.Errorf("wasmhost: assign: duplicate member id %q", id)
		}
		ids[id] = struct{}{}
	}
	index := make(map[string]uint32, len(spec.Topics))
	add := func(t string) {
		if _, ok := index[t]; !ok {
			index[t] = 0
			pl.topics = append(pl.topics, t)
		}
	}
	for t := range spec.Topics {
		add(t)
	}
	var seen recentLists
	for i := range spec.Members {
		m := &spec.Members[i]
		if _, ok := seen.find(m.Topics); !ok {
			for _, t := range m.Topics {
				add(t)
			}
			seen.add(m.Topics, 0)
		}
		for t := range m.Owned {
			add(t)
		}
	}
	sort.Strings(pl.topics)
	pl.parts = make([]int32, len(pl.topics))
	for i, t := range pl.topics {
		index[t] = uint32(i)
		pl.parts[i] = max(spec.Topics[t], 0)
		pl.total += int(pl.parts[i])
	}
	if pl.total > maxPartitions {
		return nil, fmt.Errorf("wasmhost: assign: %d partitions, limit %d", pl.total, maxPartitions)
	}
	// Members with the same subscription share one entry of the subscription table. A
	// member whose topic list equals one of the last few distinct lists reuses its entry
	// without a lookup; others are resolved, normalized and deduplicated by content.
	seed := maphash.MakeSeed()
	byHash := map[uint64][]int{}
	pl.memberSb = make([]int, len(spec.Members))
	var recent recentLists
	var idx []uint32
	for i := range spec.Members {
		m := &spec.Members[i]
		if sb, ok := recent.find(m.Topics); ok {
			pl.memberSb[i] = sb
			continue
		}
		idx = idx[:0]
		for _, t := range m.Topics {
			idx = append(idx, index[t])
		}
		slices.Sort(idx)
		idx = slices.Compact(idx)
		var h maphash.Hash
		h.SetSeed(seed)
		for _, t := range idx {
			h.Write([]byte{byte(t), byte(t >> 8), byte(t >> 16), byte(t >> 24)})
		}
		sum := h.Sum64()
		sb := -1
		for _, c := range byHash[sum] {
			if slices.Equal(pl.subs[c], idx) {
				sb = c
				break
			}
		}
		if sb < 0 {
			sb = len(pl.subs)
			pl.subs = append(pl.subs, slices.Clone(idx))
			byHash[sum] = append(byHash[sum], sb)
		}
		pl.memberSb[i] = sb
		recent.add(m.Topics, sb)
	}
	pl.subBits = make([][]bool, len(pl.subs))
	pl.wanted = make([]bool, len(pl.topics))
	for s, ts := range pl.subs {
		bits := make([]bool, len(pl.topics))
		for _, t := range ts {
			bits[t] = true
			pl.wanted[t] = true
		}
		pl.subBits[s] = bits
	}
	// Owned partitions as sorted (topic index << 32 | partition) per member.
	pl.owned = make([][]uint64, len(spec.Members))
	for i := range spec.Members {
		m := &spec.Members[i]
		if len(m.Owned) == 0 {
			continue
		}
		var o []uint64
		for t, ps := range m.Owned {
			for _, p := range ps {
				o = append(o, uint64(index[t])<<32|uint64(uint32(p)))
			}
		}
		slices.Sort(o)
		pl.owned[i] = o
	}
	return pl, nil
}

// recentLists remembers the last few distinct topic lists seen, with a value each.
type recentLists struct {
	lists [][]string
	vals  []int
	next  int
}

func (r *recentLists) find(l []string) (int, bool) {
	for i, x := range r.lists {
		if sameTopics(x, l) {
			return r.vals[i], true
		}
	}
	return 0, false
}

func (r *recentLists) add(l []string, v int) {
	if len(r.lists) < 8 {
		r.lists, r.vals = append(r.lists, l), append(r.vals, v)
		return
	}
	r.lists[r.next], r.vals[r.next] = l, v
	r.next = (r.next + 1) % len(r.lists)
}

// sameTopics reports whether two topic lists are equal, at once if they share their
// backing array (as the members of a group often do).
func sameTopics(a, b []string) bool {
	if len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) {
		return true
	}
	return slices.Equal(a, b)
}

// assignSize is the encoded size of the assign input.
func (pl *assignPlan) size(spec *GroupSpec) int {
	n := assignHeaderSize + len(spec.Group)
	n += len(pl.topics) * topicEntrySize
	for _, t := range pl.topics {
		n += len(t)
	}
	n += len(pl.subs) * subEntrySize
	for _, s := range pl.subs {
		n += 4 * len(s)
	}
	n += len(spec.Members) * memberEntrySize
	for i := range spec.Members {
		m := &spec.Members[i]
		n += len(m.ID) + len(m.InstanceID) + len(m.Rack) + len(m.UserData) + ownedEntrySize*len(pl.owned[i])
	}
	return n
}

// encode writes the assign input into b (len(b) == pl.size(spec)).
func (pl *assignPlan) encode(b []byte, spec *GroupSpec) {
	at := assignHeaderSize
	table := func(hdr, n, entry int) int {
		le.PutUint32(b[hdr:], uint32(n))
		le.PutUint32(b[hdr+4:], uint32(at))
		start := at
		at += n * entry
		return start
	}
	nOwned, nSubTopics := 0, 0
	for _, o := range pl.owned {
		nOwned += len(o)
	}
	for _, s := range pl.subs {
		nSubTopics += len(s)
	}
	topics := table(8, len(pl.topics), topicEntrySize)
	subs := table(16, len(pl.subs), subEntrySize)
	subTopics := table(24, nSubTopics, 4)
	members := table(32, len(spec.Members), memberEntrySize)
	owned := table(40, nOwned, ownedEntrySize)
	d := at
	str := func(e int, s string) {
		le.PutUint32(b[e:], uint32(d))
		le.PutUint32(b[e+4:], uint32(len(s)))
		d += copy(b[d:], s)
	}
	str(0, spec.Group)
	for i, t := range pl.topics {
		e := topics + i*topicEntrySize
		str(e, t)
		le.PutUint32(b[e+8:], uint32(pl.parts[i]))
	}
	k := 0
	for i, s := range pl.subs {
		e := subs + i*subEntrySize
		le.PutUint32(b[e:], uint32(k))
		le.PutUint32(b[e+4:], uint32(len(s)))
		for _, t := range s {
			le.PutUint32(b[subTopics+4*k:], t)
			k++
		}
	}
	k = 0
	for i := range spec.Members {
		m := &spec.Members[i]
		e := members + i*memberEntrySize
		str(e, m.ID)
		str(e+8, m.InstanceID)
		str(e+16, m.Rack)
		le.PutUint32(b[e+24:], uint32(d))
		le.PutUint32(b[e+28:], nullLen(m.UserData))
		d += copy(b[d:], m.UserData)
		le.PutUint32(b[e+32:], uint32(pl.memberSb[i]))
		le.PutUint32(b[e+36:], uint32(k))
		le.PutUint32(b[e+40:], uint32(len(pl.owned[i])))
		le.PutUint32(b[e+44:], uint32(m.Generation))
		for _, o := range pl.owned[i] {
			oe := owned + k*ownedEntrySize
			le.PutUint32(b[oe:], uint32(o>>32))
			le.PutUint32(b[oe+4:], uint32(o))
			k++
		}
	}
}

// decode checks an assign result payload (after the status) and builds the Assignment:
// one owner per partition of every topic, each -1 or a member subscribed to the topic.
func (pl *assignPlan) decode(payload []byte, spec *GroupSpec) (Assignment, error) {
	var a Assignment
	if len(payload) < 4 {
		return a, fmt.Errorf("assignment: %d bytes", len(payload))
	}
	if n := le.Uint32(payload); uint64(n) != uint64(pl.total) || len(payload) != 4+4*pl.total {
		return a, fmt.Errorf("assignment: %d owners in %d bytes for %d partitions", n, len(payload)-4, pl.total)
	}
	owners := payload[4:]
	nm := len(spec.Members)
	// Check; count the partitions and the topics of each member.
	count := make([]int32, nm)
	ntopics := make([]int32, nm)
	seenIn := make([]int32, nm) // topic index + 1 in which the member last got a partition
	assigned := 0
	for t, at := 0, 0; t < len(pl.topics); t++ {
		for p := int32(0); p < pl.parts[t]; p, at = p+1, at+4 {
			o := int32(le.Uint32(owners[at:]))
			if o == -1 {
				if pl.wanted[t] {
					a.Unassigned++
				}
				continue
			}
			if o < 0 || int(o) >= nm {
				return a, fmt.Errorf("assignment: %s partition %d: member index %d out of range [0,%d)", pl.topics[t], p, o, nm)
			}
			if !pl.subBits[pl.memberSb[o]][t] {
				return a, fmt.Errorf("assignment: %s partition %d given to %q, which is not subscribed to it", pl.topics[t], p, spec.Members[o].ID)
			}
			if seenIn[o] != int32(t)+1 {
				seenIn[o] = int32(t) + 1
				ntopics[o]++
			}
			count[o]++
			assigned++
		}
	}
	// Build both forms: one array holds every member's partitions in (topic, partition)
	// order, each Members entry being a slice of it; Lists likewise share one array.
	flat := make([]int32, assigned)
	tps := make([]TopicPartition, assigned)
	next := make([]int32, nm) // per member: next free position in flat and tps
	off := int32(0)
	for i, c := range count {
		next[i] = off
		off += c
	}
	starts := slices.Clone(next)
	runStart := make([]int32, nm)
	clear(seenIn)
	maps := make([]map[string][]int32, nm)
	var touched []int32
	for t, at := 0, 0; t < len(pl.topics); t++ {
		touched = touched[:0]
		topic := pl.topics[t]
		for p := int32(0); p < pl.parts[t]; p, at = p+1, at+4 {
			o := int32(le.Uint32(owners[at:]))
			if o < 0 {
				continue
			}
			if seenIn[o] != int32(t)+1 {
				seenIn[o] = int32(t) + 1
				runStart[o] = next[o]
				touched = append(touched, o)
			}
			flat[next[o]] = p
			tps[next[o]] = TopicPartition{Topic: topic, Partition: p}
			next[o]++
		}
		for _, o := range touched {
			if maps[o] == nil {
				maps[o] = make(map[string][]int32, ntopics[o])
			}
			maps[o][topic] = flat[runStart[o]:next[o]:next[o]]
		}
	}
	a.Members = make(map[string]map[string][]int32, nm)
	a.Lists = make(map[string][]TopicPartition, nm)
	for i := range spec.Members {
		id := spec.Members[i].ID
		a.Members[id] = maps[i]
		a.Lists[id] = tps[starts[i]:next[i]:next[i]]
	}
	return a, nil
}

// Assign computes a group assignment with an assignor plugin. The result is checked:
// every partition goes to at most one member, and only to a member subscribed to its
// topic. (Completeness is not required: a cooperative assignor may leave partitions out.)
func (p *Plugin) Assign(ctx context.Context, spec GroupSpec) (Assignment, error) {
	if p.kind != KindAssignor {
		return Assignment{}, &CallError{Plugin: p.name, Op: "assign", Err: ErrNotSupported, Detail: "plugin is a " + p.kind.String()}
	}
	pl, err := planAssign(&spec)
	if err != nil {
		return Assignment{}, err
	}
	var out Assignment
	err = p.invoke(ctx, "assign", pl.size(&spec),
		func(b []byte) { pl.encode(b, &spec) },
		func(res []byte) (err error) { out, err = pl.decode(res[4:], &spec); return err })
	return out, err
}
