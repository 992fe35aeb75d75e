package sdk

import (
	"errors"
	"slices"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

// GroupSpec is the input of an assignor.
type GroupSpec struct {
	Group   string
	Members []Member
	// Topics maps every topic of the spec to its partition count (0: it does not exist).
	Topics map[string]int32
	// TopicList holds the same topics sorted by name. Member.TopicIndexes and
	// Assignment.Owners refer to topics by their index in it.
	TopicList []TopicInfo
}

// TopicInfo is one topic of a GroupSpec.
type TopicInfo struct {
	Name       string
	Partitions int32
}

// Member is one group member. Topics and TopicIndexes are shared by the members with the
// same subscription and must not be modified; UserData is valid during the call only.
type Member struct {
	ID         string
	InstanceID string   // group.instance.id; "" for a dynamic member
	Rack       string   // client.rack; "" if unknown
	Topics     []string // subscription, sorted by name, without duplicates
	// TopicIndexes is the subscription as ascending indexes into GroupSpec.TopicList.
	TopicIndexes []int32
	UserData     []byte             // subscription user data; nil if none
	Owned        map[string][]int32 // partitions the member owns now, by topic; nil if none
	Generation   int32              // generation of Owned; -1 if unknown
}

// Assignment is an assignor's result. Fill either or both forms:
//
//   - Members maps member id → topic → partitions;
//   - Owners[t][p] is the index in GroupSpec.Members of the member that gets partition p
//     of GroupSpec.TopicList[t], or -1 for none. GroupSpec.NewOwners allocates it. It is
//     the encoding on the wire, so it is the fast form for large groups.
//
// Entries of Members are added to Owners; a partition given to two members, an unknown
// member or topic, or a partition out of range makes the call fail.
type Assignment struct {
	Members map[string]map[string][]int32
	Owners  [][]int32
}

// NewOwners returns an Owners table for s with every partition unassigned (-1).
func (s *GroupSpec) NewOwners() [][]int32 {
	total := 0
	for _, t := range s.TopicList {
		total += int(max(t.Partitions, 0))
	}
	flat := make([]int32, total)
	for i := range flat {
		flat[i] = -1
	}
	owners := make([][]int32, len(s.TopicList))
	for i, t := range s.TopicList {
		n := int(max(t.Partitions, 0))
		owners[i], flat = flat[:n:n], flat[n:]
	}
	return owners
}

// Assign input layout (docs/plugin-abi.md, "Assignor"): a 48-byte header of (count,
// offset) pairs, then tables and data; offsets from the start of the buffer.
//
//	 0 u32 group_off        4 u32 group_len
//	 8 u32 topic_count     12 u32 topics_off         topic: name_off, name_len, i32 partitions
//	16 u32 sub_count       20 u32 subs_off           subscription: first, count (into sub_topics)
//	24 u32 sub_topic_count 28 u32 sub_topics_off     u32 topic index
//	32 u32 member_count    36 u32 members_off        member: 48 bytes, see decodeGroupSpec
//	40 u32 owned_count     44 u32 owned_off          owned: u32 topic index, i32 partition
//
//	result: 0 u32 status, 4 u32 total, 8 i32 owner[total] (topics in order, partitions ascending)
//
// MaxPartitions bounds the total partition count of the topics of a GroupSpec (the host
// refuses larger specs).
const MaxPartitions = 1 << 24

const (
	assignHeaderSize = 48
	topicEntrySize   = 12
	subEntrySize     = 8
	memberEntrySize  = 48
	ownedEntrySize   = 8
)

// table returns the count and bytes of the table described at in[at:at+8].
func table(in []byte, at int, entry uint64) (uint32, []byte, bool) {
	n, off := le.Uint32(in[at:]), le.Uint32(in[at+4:])
	end := uint64(off) + uint64(n)*entry
	if end > uint64(len(in)) {
		return 0, nil, false
	}
	return n, in[off:end], true
}

func decodeGroupSpec(in []byte) (GroupSpec, error) {
	var s GroupSpec
	if len(in) < assignHeaderSize {
		return s, errBadInput
	}
	g, ok := spanU(in, le.Uint32(in[0:]), le.Uint32(in[4:]))
	nt, topics, ok1 := table(in, 8, topicEntrySize)
	ns, subs, ok2 := table(in, 16, subEntrySize)
	nst, subTopics, ok3 := table(in, 24, 4)
	nm, members, ok4 := table(in, 32, memberEntrySize)
	no, owned, ok5 := table(in, 40, ownedEntrySize)
	if !ok || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return s, errBadInput
	}
	s.Group = string(g)
	s.TopicList = make([]TopicInfo, nt)
	total := int64(0)
	s.Topics = make(map[string]int32, nt)
	for i := range s.TopicList {
		e := topics[i*topicEntrySize:]
		name, ok := spanU(in, le.Uint32(e[0:]), le.Uint32(e[4:]))
		p := int32(le.Uint32(e[8:]))
		if total += int64(p); !ok || p < 0 || total > MaxPartitions {
			return s, errBadInput
		}
		s.TopicList[i] = TopicInfo{Name: string(name), Partitions: p}
		s.Topics[s.TopicList[i].Name] = p
	}
	// Every subscription is materialized once and shared by its members.
	subNames := make([][]string, ns)
	subIdx := make([][]int32, ns)
	for i := range subNames {
		e := subs[i*subEntrySize:]
		first, cnt := le.Uint32(e[0:]), le.Uint32(e[4:])
		if uint64(first)+uint64(cnt) > uint64(nst) {
			return s, errBadInput
		}
		names, idx := make([]string, cnt), make([]int32, cnt)
		for j := range names {
			t := le.Uint32(subTopics[4*(int(first)+j):])
			if t >= nt {
				return s, errBadInput
			}
			names[j], idx[j] = s.TopicList[t].Name, int32(t)
		}
		subNames[i], subIdx[i] = names[:cnt:cnt], idx[:cnt:cnt]
	}
	s.Members = make([]Member, nm)
	for i := range s.Members {
		e := members[i*memberEntrySize:]
		id, ok1 := spanU(in, le.Uint32(e[0:]), le.Uint32(e[4:]))
		inst, ok2 := spanU(in, le.Uint32(e[8:]), le.Uint32(e[12:]))
		rack, ok3 := spanU(in, le.Uint32(e[16:]), le.Uint32(e[20:]))
		ud, ok4 := span(in, le.Uint32(e[24:]), int32(le.Uint32(e[28:])))
		sub, ofirst, ocnt := le.Uint32(e[32:]), le.Uint32(e[36:]), le.Uint32(e[40:])
		if !ok1 || !ok2 || !ok3 || !ok4 || sub >= ns || uint64(ofirst)+uint64(ocnt) > uint64(no) {
			return s, errBadInput
		}
		m := &s.Members[i]
		m.ID, m.UserData, m.Generation = string(id), ud, int32(le.Uint32(e[44:]))
		if len(inst) > 0 {
			m.InstanceID = string(inst)
		}
		if len(rack) > 0 {
			m.Rack = string(rack)
		}
		m.Topics, m.TopicIndexes = subNames[sub], subIdx[sub]
		if ocnt == 0 {
			continue
		}
		m.Owned = make(map[string][]int32)
		for j := ofirst; j < ofirst+ocnt; j++ {
			oe := owned[j*ownedEntrySize:]
			t := le.Uint32(oe[0:])
			if t >= nt {
				return s, errBadInput
			}
			name := s.TopicList[t].Name
			m.Owned[name] = append(m.Owned[name], int32(le.Uint32(oe[4:])))
		}
	}
	return s, nil
}

// encodeAssignment writes the result of a successful assign call into out.
func encodeAssignment(out []byte, s *GroupSpec, a Assignment) ([]byte, error) {
	owners := a.Owners
	if owners == nil {
		owners = s.NewOwners()
	} else {
		if len(owners) != len(s.TopicList) {
			return nil, errors.New("sdk: assignment: Owners has " + itoa(len(owners)) + " topics, the spec " + itoa(len(s.TopicList)))
		}
		for t, o := range owners {
			if len(o) != int(s.TopicList[t].Partitions) {
				return nil, errors.New("sdk: assignment: Owners[" + itoa(t) + "] (" + s.TopicList[t].Name + ") has " +
					itoa(len(o)) + " partitions, want " + itoa(int(s.TopicList[t].Partitions)))
			}
			for p, m := range o {
				if m < -1 || int(m) >= len(s.Members) {
					return nil, errors.New("sdk: assignment: " + s.TopicList[t].Name + "-" + itoa(p) + ": member index " + itoa(int(m)) + " out of range")
				}
			}
		}
	}
	if len(a.Members) > 0 {
		if err := mergeMembers(owners, s, a.Members); err != nil {
			return nil, err
		}
	}
	total := 0
	for _, o := range owners {
		total += len(o)
	}
	size := 8 + 4*total
	if cap(out) < size {
		out = make([]byte, 0, size)
	}
	out = out[:size]
	le.PutUint32(out[0:], StatusOK)
	le.PutUint32(out[4:], uint32(total))
	at := 8
	for _, o := range owners {
		putInt32s(out[at:], o)
		at += 4 * len(o)
	}
	return out, nil
}

// mergeMembers adds the map form of an assignment to owners.
func mergeMembers(owners [][]int32, s *GroupSpec, members map[string]map[string][]int32) error {
	midx := make(map[string]int32, len(s.Members))
	for i := range s.Members {
		midx[s.Members[i].ID] = int32(i)
	}
	tidx := make(map[string]int, len(s.TopicList))
	for i, t := range s.TopicList {
		tidx[t.Name] = i
	}
	ids := make([]string, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic error messages
	for _, id := range ids {
		m, ok := midx[id]
		if !ok {
			return errors.New("sdk: assignment: unknown member " + strconv.Quote(id))
		}
		for topic, parts := range members[id] {
			t, ok := tidx[topic]
			if !ok {
				return errors.New("sdk: assignment: member " + strconv.Quote(id) + ": unknown topic " + strconv.Quote(topic))
			}
			o := owners[t]
			for _, p := range parts {
				if p < 0 || int(p) >= len(o) {
					return errors.New("sdk: assignment: member " + strconv.Quote(id) + ": " + topic + " partition " +
						itoa(int(p)) + " out of range [0," + itoa(len(o)) + ")")
				}
				if prev := o[p]; prev != -1 && prev != m {
					return errors.New("sdk: assignment: " + topic + " partition " + itoa(int(p)) + " given to " +
						strconv.Quote(s.Members[prev].ID) + " and " + strconv.Quote(id))
				}
				o[p] = m
			}
		}
	}
	return nil
}

func handleAssign(in, out []byte) []byte {
	if assignor == nil {
		return errResult(out, StatusNotRegistered, "sdk: no assignor registered")
	}
	return guard(out, func(out []byte) []byte {
		spec, err := decodeGroupSpec(in)
		if err != nil {
			return errResult(out, StatusBadInput, "sdk: assign: "+err.Error())
		}
		a, err := assignor(spec)
		if err != nil {
			return errResult(out, StatusFailed, err.Error())
		}
		res, err := encodeAssignment(out, &spec, a)
		if err != nil {
			return errResult(out, StatusFailed, err.Error())
		}
		return res
	})
}
