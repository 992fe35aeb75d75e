package assignor

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Member is one group member as the coordinator sees it at assignment time.
type Member struct {
	ID         string           // member id
	InstanceID string           // group.instance.id ("" for dynamic members)
	Rack       string           // "" if unknown; ignored by every built-in assignor
	Topics     []string         // subscription
	Owned      []TopicPartition // partitions it owns now (sticky / cooperative input)
	Generation int32            // generation of Owned; on conflicting claims the highest wins
}

// GroupSpec is the whole input of an assignment.
type GroupSpec struct {
	Group      string // group id (informational: built-ins ignore it; Wasm assignors see it)
	Members    []Member
	Partitions map[string]int32 // topic → partition count; absent or ≤ 0 means the topic does not exist
}

// Assignment maps a member id to its partitions, each list sorted by (topic, partition).
// The built-in assignors return an entry, possibly empty, for every member.
type Assignment map[string][]TopicPartition

// Assignor is one assignment strategy. Assign must be a pure, deterministic function of its
// input: the order of spec.Members and of each Member's Topics and Owned does not matter.
type Assignor interface {
	Name() string
	Assign(GroupSpec) (Assignment, error)
}

// Errors returned by Assign and Validate (wrapped with details).
var (
	ErrDuplicateMember = errors.New("assignor: duplicate member id")
	ErrEmptyMemberID   = errors.New("assignor: empty member id")
	ErrUnknownMember   = errors.New("assignor: assignment names an unknown member")
	ErrUnknownTopic    = errors.New("assignor: assignment names a partition that does not exist")
	ErrNotSubscribed   = errors.New("assignor: partition assigned to a member not subscribed to its topic")
	ErrDuplicate       = errors.New("assignor: partition assigned more than once")
	// ErrUnassigned is returned alone (never together with another violation) when the only
	// problem is that some subscribed partitions are not assigned; a cooperative assignor's
	// first-phase output fails Validate with exactly this error.
	ErrUnassigned = errors.New("assignor: subscribed partitions left unassigned")
)

// ByName returns the built-in assignor with the given protocol name: "range", "roundrobin",
// "sticky", "cooperative-sticky" or "uniform".
func ByName(name string) (Assignor, bool) {
	switch name {
	case "range":
		return Range(), true
	case "roundrobin":
		return RoundRobin(), true
	case "sticky":
		return Sticky(), true
	case "cooperative-sticky":
		return CooperativeSticky(), true
	case "uniform":
		return Uniform(), true
	}
	return nil, false
}

// Validate checks an assignment produced by any assignor (built-in or plugin) against its
// spec: every member named exists, every partition exists, is assigned at most once and
// only to a member subscribed to its topic, and every partition of every existing topic
// that some member subscribes to is assigned. Violations other than missing partitions are
// reported first; missing partitions alone yield an error wrapping ErrUnassigned. The order
// of each list is not checked.
func Validate(spec GroupSpec, a Assignment) error {
	subs := make(map[string]map[string]bool, len(spec.Members)) // member → topic set
	for _, m := range spec.Members {
		set := make(map[string]bool, len(m.Topics))
		for _, t := range m.Topics {
			set[t] = true
		}
		subs[m.ID] = set
	}
	owner := make(map[string][]string) // topic → partition → member
	ids := make([]string, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		set, ok := subs[id]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnknownMember, id)
		}
		for _, tp := range a[id] {
			n := spec.Partitions[tp.Topic]
			if tp.Partition < 0 || tp.Partition >= n {
				return fmt.Errorf("%w: %s-%d (given to %q)", ErrUnknownTopic, tp.Topic, tp.Partition, id)
			}
			if !set[tp.Topic] {
				return fmt.Errorf("%w: %s-%d to %q", ErrNotSubscribed, tp.Topic, tp.Partition, id)
			}
			o := owner[tp.Topic]
			if o == nil {
				o = make([]string, n)
				owner[tp.Topic] = o
			}
			if prev := o[tp.Partition]; prev != "" {
				return fmt.Errorf("%w: %s-%d to %q and %q", ErrDuplicate, tp.Topic, tp.Partition, prev, id)
			}
			o[tp.Partition] = id
		}
	}
	subscribed := make(map[string]bool)
	for _, m := range spec.Members {
		for _, t := range m.Topics {
			if spec.Partitions[t] > 0 {
				subscribed[t] = true
			}
		}
	}
	missing, first := 0, ""
	for _, t := range sortedKeys(subscribed) {
		o := owner[t]
		for p := range spec.Partitions[t] {
			if o == nil || o[p] == "" {
				if missing == 0 {
					first = fmt.Sprintf("%s-%d", t, p)
				}
				missing++
			}
		}
	}
	if missing > 0 {
		return fmt.Errorf("%w: %d, first %s", ErrUnassigned, missing, first)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// compareMembers is Kafka's member order (AbstractPartitionAssignor.MemberInfo): static
// members first, ordered by instance id, then dynamic members ordered by member id. The
// member id breaks the (invalid) tie of two members sharing an instance id.
func compareMembers(a, b *Member) int {
	switch {
	case a.InstanceID != "" && b.InstanceID != "":
		if c := cmp.Compare(a.InstanceID, b.InstanceID); c != 0 {
			return c
		}
	case a.InstanceID != "":
		return -1
	case b.InstanceID != "":
		return 1
	}
	return cmp.Compare(a.ID, b.ID)
}

// index is the normalized view of a GroupSpec shared by all strategies. Members are in
// Kafka's order; topics are the existing, subscribed ones in name order; partition g of the
// group is partition g-base[t] of topic t, so ascending g is (topic, partition) order.
type index struct {
	members  []*Member
	topics   []string
	topicIdx map[string]int
	base     []int   // len(topics)+1; base[len(topics)] is the partition total
	subs     [][]int // topic → subscribed member indexes, ascending
	mtopics  [][]int // member → subscribed topic indexes, ascending, deduplicated
	sub      []bool  // sub[m*len(topics)+t]
}

func newIndex(spec GroupSpec) (*index, error) {
	ix := &index{members: make([]*Member, len(spec.Members)), topicIdx: make(map[string]int)}
	seen := make(map[string]bool, len(spec.Members))
	for i := range spec.Members {
		m := &spec.Members[i]
		if m.ID == "" {
			return nil, ErrEmptyMemberID
		}
		if seen[m.ID] {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateMember, m.ID)
		}
		seen[m.ID] = true
		ix.members[i] = m
		for _, t := range m.Topics {
			if spec.Partitions[t] > 0 {
				ix.topicIdx[t] = 0
			}
		}
	}
	slices.SortFunc(ix.members, compareMembers)
	ix.topics = sortedKeys(ix.topicIdx)
	ix.base = make([]int, len(ix.topics)+1)
	for i, t := range ix.topics {
		ix.topicIdx[t] = i
		ix.base[i+1] = ix.base[i] + int(spec.Partitions[t])
	}
	T := len(ix.topics)
	ix.sub = make([]bool, len(ix.members)*T)
	ix.subs = make([][]int, T)
	ix.mtopics = make([][]int, len(ix.members))
	for mi, m := range ix.members {
		for _, t := range m.Topics {
			ti, ok := ix.topicIdx[t]
			if !ok || ix.sub[mi*T+ti] {
				continue
			}
			ix.sub[mi*T+ti] = true
			ix.mtopics[mi] = append(ix.mtopics[mi], ti)
		}
		slices.Sort(ix.mtopics[mi])
		for _, ti := range ix.mtopics[mi] {
			ix.subs[ti] = append(ix.subs[ti], mi)
		}
	}
	return ix, nil
}

func (ix *index) total() int { return ix.base[len(ix.topics)] }

func (ix *index) subscribed(mi, ti int) bool { return ix.sub[mi*len(ix.topics)+ti] }

// global returns the group-wide index of tp, or -1 if tp is not a partition of an existing,
// subscribed topic.
func (ix *index) global(tp TopicPartition) int {
	ti, ok := ix.topicIdx[tp.Topic]
	if !ok || tp.Partition < 0 || int(tp.Partition) >= ix.base[ti+1]-ix.base[ti] {
		return -1
	}
	return ix.base[ti] + int(tp.Partition)
}

// build turns owner (group partition → member index, -1 for none) into an Assignment with
// an entry for every member and every list sorted.
func (ix *index) build(owner []int32) Assignment {
	counts := make([]int, len(ix.members))
	for _, o := range owner {
		if o >= 0 {
			counts[o]++
		}
	}
	flat := make([]TopicPartition, 0, len(owner))
	lists := make([][]TopicPartition, len(ix.members))
	for mi, c := range counts {
		lists[mi] = flat[len(flat) : len(flat) : len(flat)+c]
		flat = flat[:len(flat)+c]
	}
	for ti, t := range ix.topics {
		for g := ix.base[ti]; g < ix.base[ti+1]; g++ {
			if o := owner[g]; o >= 0 {
				lists[o] = append(lists[o], TopicPartition{t, int32(g - ix.base[ti])})
			}
		}
	}
	a := make(Assignment, len(ix.members))
	for mi, m := range ix.members {
		a[m.ID] = lists[mi]
	}
	return a
}

func newOwners(n int) []int32 {
	o := make([]int32, n)
	for i := range o {
		o[i] = -1
	}
	return o
}
