package sdk

import (
	"encoding/binary"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func status(t testing.TB, out []byte) (uint32, []byte) {
	t.Helper()
	if len(out) < 4 {
		t.Fatalf("result of %d bytes", len(out))
	}
	return binary.LittleEndian.Uint32(out), out[4:]
}

var testRecords = []Record{
	{Timestamp: 1, Key: []byte("k"), Value: []byte("v"), Headers: []Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}},
	{Timestamp: -5, Key: nil, Value: []byte{}},
	{Timestamp: 9, Key: []byte{}, Value: nil, Headers: []Header{{Key: "a", Value: []byte{}}}},
}

func TestRecordsRoundTrip(t *testing.T) {
	for range 2 { // the second decode reuses the scratch slices and string caches
		topic, arg, got, err := decodeCall(encodeCall("orders", -3, testRecords))
		if err != nil {
			t.Fatal(err)
		}
		if topic != "orders" || arg != -3 {
			t.Fatalf("topic %q arg %d", topic, arg)
		}
		if !reflect.DeepEqual(got, testRecords) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, testRecords)
		}
	}
}

func TestTruncatedInputs(t *testing.T) {
	full := encodeCall("t", 3, []Record{{Key: []byte("key"), Value: []byte("value"), Headers: []Header{{Key: "h", Value: []byte("x")}}}})
	RegisterPartitioner(func(string, int32, []Record) ([]int32, error) { return []int32{0}, nil })
	defer RegisterPartitioner(nil)
	for n := 0; n < len(full); n++ {
		if st, _ := status(t, handlePartition(full[:n], nil)); st != StatusBadInput {
			t.Fatalf("input truncated to %d bytes: status %d, want StatusBadInput", n, st)
		}
	}
	if st, _ := status(t, handlePartition(full, nil)); st != StatusOK {
		t.Fatalf("full input: status %d", st)
	}
}

func TestPartitionStatuses(t *testing.T) {
	defer RegisterPartitioner(nil)
	in := encodeCall("orders", 4, []Record{{Key: []byte("a")}, {Key: []byte("b")}})
	for _, tc := range []struct {
		name   string
		fn     PartitionFunc
		status uint32
		want   string // payload (error message) or "" for OK
	}{
		{"not registered", nil, StatusNotRegistered, "no partitioner registered"},
		{"ok", func(topic string, n int32, recs []Record) ([]int32, error) {
			return []int32{int32(len(topic)) % n, int32(recs[1].Key[0]) % n}, nil
		}, StatusOK, ""},
		{"error", func(string, int32, []Record) ([]int32, error) { return nil, errors.New("nope") }, StatusFailed, "nope"},
		{"panic", func(_ string, _ int32, recs []Record) ([]int32, error) { return []int32{int32(recs[5].Timestamp)}, nil }, StatusPanic, "index out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			RegisterPartitioner(tc.fn)
			st, payload := status(t, Handle(KindPartitioner, in))
			if st != tc.status {
				t.Fatalf("status %d (%q), want %d", st, payload, tc.status)
			}
			if tc.status != StatusOK {
				if !strings.Contains(string(payload), tc.want) {
					t.Fatalf("message %q, want it to contain %q", payload, tc.want)
				}
				return
			}
			want := []byte{2, 0, 0, 0, 2, 0, 0, 0, byte('b') % 4, 0, 0, 0}
			if !reflect.DeepEqual(payload, want) {
				t.Fatalf("payload % x, want % x", payload, want)
			}
		})
	}
}

func TestTransformResult(t *testing.T) {
	RegisterTransform(func(topic string, p int32, recs []Record) ([]Record, error) {
		out := append([]Record{}, recs...)
		out[0].Value = []byte(topic)
		return out, nil
	})
	defer RegisterTransform(nil)
	res := Handle(KindTransform, encodeCall("src", 1, testRecords))
	if st, msg := status(t, res); st != StatusOK {
		t.Fatalf("status %d: %s", st, msg)
	}
	// A transform result has the layout of a call input behind a 24-byte header; decode
	// it with the input decoder after moving it behind a 32-byte call header.
	in := make([]byte, 8, 8+len(res))
	in = append(in, res...)
	copy(in[16:32], res[8:24])
	for _, at := range []int{20, 28} {
		binary.LittleEndian.PutUint32(in[at:], binary.LittleEndian.Uint32(in[at:])+8)
	}
	// Offsets inside the tables stay relative to the result: shift them too.
	n, recOff := binary.LittleEndian.Uint32(in[16:]), binary.LittleEndian.Uint32(in[20:])
	nh, hdrOff := binary.LittleEndian.Uint32(in[24:]), binary.LittleEndian.Uint32(in[28:])
	for i := uint32(0); i < n; i++ {
		for _, f := range []uint32{8, 16} {
			at := recOff + i*recordEntrySize + f
			binary.LittleEndian.PutUint32(in[at:], binary.LittleEndian.Uint32(in[at:])+8)
		}
	}
	for i := uint32(0); i < nh; i++ {
		for _, f := range []uint32{0, 8} {
			at := hdrOff + i*headerEntrySize + f
			binary.LittleEndian.PutUint32(in[at:], binary.LittleEndian.Uint32(in[at:])+8)
		}
	}
	_, _, got, err := decodeCall(in)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]Record{}, testRecords...)
	want[0].Value = []byte("src")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("transform result:\n got %#v\nwant %#v", got, want)
	}
}

// FuzzHandlePartition: no input makes the SDK panic (status 1) or accept a batch whose
// slices reach outside the input.
func FuzzHandlePartition(f *testing.F) {
	f.Add(encodeCall("t", 3, testRecords))
	f.Add(encodeCall("", 1, nil))
	f.Add([]byte{})
	RegisterPartitioner(func(_ string, _ int32, recs []Record) ([]int32, error) {
		return make([]int32, len(recs)), nil
	})
	defer RegisterPartitioner(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		st, msg := status(t, Handle(KindPartitioner, in))
		if st != StatusOK && st != StatusBadInput {
			t.Fatalf("status %d: %s", st, msg)
		}
	})
}

// encodeGroupSpec is a straightforward encoder of the assign input for tests.
func encodeGroupSpec(s GroupSpec) []byte {
	b := make([]byte, assignHeaderSize)
	put := func(at int, v uint32) { binary.LittleEndian.PutUint32(b[at:], v) }
	data := []byte{}
	str := func(v []byte) (uint32, uint32) {
		off := len(data)
		data = append(data, v...)
		return uint32(off), uint32(len(v))
	}
	var topics, subs, subTopics, members, owned []byte
	u32 := binary.LittleEndian.AppendUint32
	tidx := map[string]uint32{}
	for i, t := range s.TopicList {
		o, n := str([]byte(t.Name))
		topics = u32(u32(u32(topics, o), n), uint32(t.Partitions))
		tidx[t.Name] = uint32(i)
	}
	subOf := map[string]uint32{}
	nsub, nst := uint32(0), uint32(0)
	no := uint32(0)
	for _, m := range s.Members {
		key := strings.Join(m.Topics, "\x00")
		sub, ok := subOf[key]
		if !ok {
			sub = nsub
			subOf[key] = sub
			subs = u32(u32(subs, nst), uint32(len(m.Topics)))
			for _, t := range m.Topics {
				subTopics = u32(subTopics, tidx[t])
				nst++
			}
			nsub++
		}
		io, il := str([]byte(m.ID))
		iio, iil := str([]byte(m.InstanceID))
		ro, rl := str([]byte(m.Rack))
		uo, ul := str(m.UserData)
		if m.UserData == nil {
			ul = 0xffffffff
		}
		first := no
		var ts []string
		for t := range m.Owned {
			ts = append(ts, t)
		}
		sort.Strings(ts)
		for _, t := range ts {
			for _, p := range m.Owned[t] {
				owned = u32(u32(owned, tidx[t]), uint32(p))
				no++
			}
		}
		for _, v := range []uint32{io, il, iio, iil, ro, rl, uo, ul, sub, first, no - first, uint32(m.Generation)} {
			members = u32(members, v)
		}
	}
	off := uint32(assignHeaderSize)
	tbl := func(at int, n uint32, t []byte) {
		put(at, n)
		put(at+4, off)
		b = append(b, t...)
		off += uint32(len(t))
	}
	tbl(8, uint32(len(s.TopicList)), topics)
	tbl(16, nsub, subs)
	tbl(24, nst, subTopics)
	tbl(32, uint32(len(s.Members)), members)
	tbl(40, no, owned)
	put(0, off+uint32(len(data)))
	put(4, uint32(len(s.Group)))
	data = append(data, s.Group...)
	// String offsets were relative to data: rebase them.
	base := off
	rebase := func(tblAt int, n uint32, size int, fields ...int) {
		start := binary.LittleEndian.Uint32(b[tblAt+4:])
		for i := uint32(0); i < n; i++ {
			for _, f := range fields {
				at := int(start) + int(i)*size + f
				binary.LittleEndian.PutUint32(b[at:], binary.LittleEndian.Uint32(b[at:])+base)
			}
		}
	}
	rebase(8, uint32(len(s.TopicList)), topicEntrySize, 0)
	rebase(32, uint32(len(s.Members)), memberEntrySize, 0, 8, 16, 24)
	put(0, base+uint32(len(data))-uint32(len(s.Group)))
	return append(b, data...)
}

func testSpec() GroupSpec {
	s := GroupSpec{
		Group:     "g",
		TopicList: []TopicInfo{{"a", 3}, {"b", 1}, {"gone", 0}},
		Members: []Member{
			{ID: "m1", InstanceID: "i1", Rack: "r1", Topics: []string{"a", "b"}, UserData: []byte("ud"), Generation: 4,
				Owned: map[string][]int32{"a": {0, 2}}},
			{ID: "m2", Topics: []string{"a", "b"}, Generation: -1},
			{ID: "m3", Topics: []string{"a", "gone"}, UserData: []byte{}, Generation: -1},
		},
	}
	s.Topics = map[string]int32{"a": 3, "b": 1, "gone": 0}
	s.Members[0].TopicIndexes = []int32{0, 1}
	s.Members[1].TopicIndexes = []int32{0, 1}
	s.Members[2].TopicIndexes = []int32{0, 2}
	return s
}

func TestDecodeGroupSpec(t *testing.T) {
	want := testSpec()
	got, err := decodeGroupSpec(encodeGroupSpec(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decode:\n got %+v\nwant %+v", got, want)
	}
	if &got.Members[0].Topics[0] != &got.Members[1].Topics[0] {
		t.Fatal("members with the same subscription do not share its slices")
	}
	in := encodeGroupSpec(want)
	for n := 0; n < len(in); n++ {
		if _, err := decodeGroupSpec(in[:n]); err == nil {
			t.Fatalf("input truncated to %d bytes decoded", n)
		}
	}
}

func TestAssignResults(t *testing.T) {
	defer RegisterAssignor(nil)
	in := encodeGroupSpec(testSpec())
	for _, tc := range []struct {
		name   string
		fn     AssignFunc
		status uint32
		want   []int32 // owners, or nil
		msg    string
	}{
		{"members map", func(s GroupSpec) (Assignment, error) {
			return Assignment{Members: map[string]map[string][]int32{"m1": {"a": {0, 2}}, "m2": {"a": {1}, "b": {0}}}}, nil
		}, StatusOK, []int32{0, 1, 0, 1}, ""},
		{"owners", func(s GroupSpec) (Assignment, error) {
			o := s.NewOwners()
			o[0][1], o[1][0] = 2, 0
			return Assignment{Owners: o}, nil
		}, StatusOK, []int32{-1, 2, -1, 0}, ""},
		{"both", func(s GroupSpec) (Assignment, error) {
			o := s.NewOwners()
			o[0][1] = 2
			return Assignment{Owners: o, Members: map[string]map[string][]int32{"m1": {"a": {0}}}}, nil
		}, StatusOK, []int32{0, 2, -1, -1}, ""},
		{"empty", func(s GroupSpec) (Assignment, error) { return Assignment{}, nil }, StatusOK, []int32{-1, -1, -1, -1}, ""},
		{"twice", func(s GroupSpec) (Assignment, error) {
			return Assignment{Members: map[string]map[string][]int32{"m1": {"a": {1}}, "m2": {"a": {1}}}}, nil
		}, StatusFailed, nil, `a partition 1 given to "m1" and "m2"`},
		{"unknown member", func(s GroupSpec) (Assignment, error) {
			return Assignment{Members: map[string]map[string][]int32{"zz": {"a": {1}}}}, nil
		}, StatusFailed, nil, `unknown member "zz"`},
		{"unknown topic", func(s GroupSpec) (Assignment, error) {
			return Assignment{Members: map[string]map[string][]int32{"m1": {"x": {1}}}}, nil
		}, StatusFailed, nil, `unknown topic "x"`},
		{"out of range", func(s GroupSpec) (Assignment, error) {
			return Assignment{Members: map[string]map[string][]int32{"m1": {"b": {1}}}}, nil
		}, StatusFailed, nil, "b partition 1 out of range [0,1)"},
		{"bad owners shape", func(s GroupSpec) (Assignment, error) { return Assignment{Owners: [][]int32{{0}}}, nil }, StatusFailed, nil, "Owners has 1 topics, the spec 3"},
		{"bad owner", func(s GroupSpec) (Assignment, error) {
			o := s.NewOwners()
			o[0][0] = 3
			return Assignment{Owners: o}, nil
		}, StatusFailed, nil, "a-0: member index 3 out of range"},
		{"error", func(s GroupSpec) (Assignment, error) { return Assignment{}, errors.New("no way") }, StatusFailed, nil, "no way"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			RegisterAssignor(tc.fn)
			st, payload := status(t, Handle(KindAssignor, in))
			if st != tc.status {
				t.Fatalf("status %d (%q), want %d", st, payload, tc.status)
			}
			if st != StatusOK {
				if !strings.Contains(string(payload), tc.msg) {
					t.Fatalf("message %q, want it to contain %q", payload, tc.msg)
				}
				return
			}
			var got []int32
			if n := binary.LittleEndian.Uint32(payload); int(n) != len(tc.want) || len(payload) != 4+4*int(n) {
				t.Fatalf("total %d in %d bytes", n, len(payload))
			}
			for i := 4; i < len(payload); i += 4 {
				got = append(got, int32(binary.LittleEndian.Uint32(payload[i:])))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("owners %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzDecodeGroupSpec(f *testing.F) {
	f.Add(encodeGroupSpec(testSpec()))
	f.Add(encodeGroupSpec(GroupSpec{}))
	RegisterAssignor(func(s GroupSpec) (Assignment, error) { return Assignment{}, nil })
	defer RegisterAssignor(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		st, msg := status(t, Handle(KindAssignor, in))
		if st != StatusOK && st != StatusBadInput {
			t.Fatalf("status %d: %s", st, msg)
		}
	})
}

// encodeCall writes a partition or transform input (the host's side; used by tests).
func encodeCall(topic string, arg int32, recs []Record) []byte {
	res := encodeTransformResult(nil, recs)
	// Reuse the transform layout: shift its tables behind a call header.
	nrec, recOff := le.Uint32(res[8:]), le.Uint32(res[12:])
	nh, hdrOff := le.Uint32(res[16:]), le.Uint32(res[20:])
	shift := uint32(callHeaderSize - transformHdrSize)
	b := make([]byte, callHeaderSize, callHeaderSize+len(res)+len(topic))
	b = append(b, res[transformHdrSize:]...)
	for i := uint32(0); i < nrec; i++ {
		e := callHeaderSize + i*recordEntrySize
		for _, f := range []uint32{8, 16} {
			le.PutUint32(b[e+f:], le.Uint32(b[e+f:])+shift)
		}
	}
	for i := uint32(0); i < nh; i++ {
		e := hdrOff + shift + i*headerEntrySize
		for _, f := range []uint32{0, 8} {
			le.PutUint32(b[e+f:], le.Uint32(b[e+f:])+shift)
		}
	}
	le.PutUint32(b[0:], uint32(len(b)))
	le.PutUint32(b[4:], uint32(len(topic)))
	b = append(b, topic...)
	le.PutUint32(b[8:], uint32(arg))
	le.PutUint32(b[16:], nrec)
	le.PutUint32(b[20:], recOff+shift)
	le.PutUint32(b[24:], nh)
	le.PutUint32(b[28:], hdrOff+shift)
	return b
}
