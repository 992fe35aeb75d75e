package wasmhost

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/streamd/streamd/plugins/sdk"
)

// The host's encoders and decoders against the Go SDK's, natively (sdk.Handle runs a call
// as the SDK's export does), so every layout is checked from both sides.

var roundTripRecords = []Record{
	{Timestamp: 1, Key: []byte("k"), Value: []byte("v"), Headers: []Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}},
	{Timestamp: -5, Key: nil, Value: []byte{}},
	{Timestamp: 1 << 40, Key: []byte{}, Value: nil, Headers: []Header{{Key: "", Value: []byte{}}}},
	{Timestamp: 9, Key: []byte("same key"), Value: []byte(strings.Repeat("x", 1000)), Headers: []Header{{Key: "a", Value: []byte("2")}}},
}

func toSDK(recs []Record) []sdk.Record {
	if len(recs) == 0 {
		return nil
	}
	out := make([]sdk.Record, len(recs))
	for i, r := range recs {
		out[i] = sdk.Record{Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			out[i].Headers = append(out[i].Headers, sdk.Header{Key: h.Key, Value: h.Value})
		}
	}
	return out
}

func encodeForTest(topic string, arg int32, recs []Record) []byte {
	b := make([]byte, callSize(topic, recs))
	encodeCall(b, topic, arg, recs)
	return b
}

func TestRecordsThroughSDK(t *testing.T) {
	var gotTopic string
	var gotArg int32
	var gotRecs []sdk.Record
	sdk.RegisterTransform(func(topic string, p int32, recs []sdk.Record) ([]sdk.Record, error) {
		gotTopic, gotArg = topic, p
		gotRecs = nil
		for _, r := range recs { // copy: the records alias the SDK's buffers
			c := sdk.Record{Timestamp: r.Timestamp, Key: slices.Clone(r.Key), Value: slices.Clone(r.Value)}
			for _, h := range r.Headers {
				c.Headers = append(c.Headers, sdk.Header{Key: h.Key, Value: slices.Clone(h.Value)})
			}
			gotRecs = append(gotRecs, c)
		}
		return recs, nil
	})
	defer sdk.RegisterTransform(nil)
	for _, recs := range [][]Record{roundTripRecords, nil, roundTripRecords[1:2]} {
		res := sdk.Handle(sdk.KindTransform, encodeForTest("orders", 7, recs))
		if st := binary.LittleEndian.Uint32(res); st != statusOK {
			t.Fatalf("status %d: %s", st, res[4:])
		}
		if gotTopic != "orders" || gotArg != 7 || !reflect.DeepEqual(gotRecs, toSDK(recs)) {
			t.Fatalf("the SDK decoded %q %d %+v, want %+v", gotTopic, gotArg, gotRecs, toSDK(recs))
		}
		out, err := decodeTransformResult(res)
		if err != nil {
			t.Fatal(err)
		}
		want := recs
		if want == nil {
			want = []Record{}
		}
		if !reflect.DeepEqual(out, want) {
			t.Fatalf("transform result:\n got %+v\nwant %+v", out, want)
		}
	}
}

func TestPartitionsThroughSDK(t *testing.T) {
	sdk.RegisterPartitioner(func(topic string, n int32, recs []sdk.Record) ([]int32, error) {
		out := sdk.PartitionBuffer(len(recs))
		for i, r := range recs {
			out[i] = int32(len(r.Key)+len(r.Value)) % n
		}
		return out, nil
	})
	defer sdk.RegisterPartitioner(nil)
	res := sdk.Handle(sdk.KindPartitioner, encodeForTest("t", 5, roundTripRecords))
	out := make([]int32, len(roundTripRecords))
	if err := decodePartitions(res[4:], out, 5); err != nil {
		t.Fatal(err)
	}
	if want := []int32{2, 0, 0, 3}; !slices.Equal(out, want) {
		t.Fatalf("partitions %v, want %v", out, want)
	}
}

func testGroupSpec() GroupSpec {
	return GroupSpec{
		Group:  "g",
		Topics: map[string]int32{"a": 3, "b": 1, "gone": -1, "z": 2},
		Members: []Member{
			{ID: "m1", InstanceID: "i1", Rack: "r1", Topics: []string{"b", "a", "a"}, UserData: []byte("ud"), Generation: 4,
				Owned: map[string][]int32{"a": {2, 0}, "old": {5}}},
			{ID: "m2", Topics: []string{"a", "b"}, Generation: -1},
			{ID: "m3", Topics: []string{"missing", "a"}, UserData: []byte{}, Generation: -1},
			{ID: "m4", Generation: -1},
		},
	}
}

func TestGroupSpecThroughSDK(t *testing.T) {
	var got sdk.GroupSpec
	sdk.RegisterAssignor(func(s sdk.GroupSpec) (sdk.Assignment, error) {
		got = s
		got.Members = slices.Clone(s.Members)
		for i := range got.Members {
			got.Members[i].UserData = slices.Clone(s.Members[i].UserData)
		}
		o := s.NewOwners()
		o[0][1] = 2 // a-1 → m3
		return sdk.Assignment{Owners: o, Members: map[string]map[string][]int32{"m1": {"a": {0, 2}, "b": {0}}}}, nil
	})
	defer sdk.RegisterAssignor(nil)
	spec := testGroupSpec()
	pl, err := planAssign(&spec)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]byte, pl.size(&spec))
	pl.encode(in, &spec)
	res := sdk.Handle(sdk.KindAssignor, in)
	if st := binary.LittleEndian.Uint32(res); st != statusOK {
		t.Fatalf("status %d: %s", st, res[4:])
	}
	topics := []sdk.TopicInfo{{Name: "a", Partitions: 3}, {Name: "b", Partitions: 1}, {Name: "gone", Partitions: 0}, {Name: "missing", Partitions: 0}, {Name: "old", Partitions: 0}, {Name: "z", Partitions: 2}}
	ab, am := []string{"a", "b"}, []string{"a", "missing"}
	want := sdk.GroupSpec{
		Group:     "g",
		Topics:    map[string]int32{"a": 3, "b": 1, "gone": 0, "missing": 0, "old": 0, "z": 2},
		TopicList: topics,
		Members: []sdk.Member{
			{ID: "m1", InstanceID: "i1", Rack: "r1", Topics: ab, TopicIndexes: []int32{0, 1}, UserData: []byte("ud"),
				Owned: map[string][]int32{"a": {0, 2}, "old": {5}}, Generation: 4},
			{ID: "m2", Topics: ab, TopicIndexes: []int32{0, 1}, Generation: -1},
			{ID: "m3", Topics: am, TopicIndexes: []int32{0, 3}, UserData: []byte{}, Generation: -1},
			{ID: "m4", Topics: []string{}, TopicIndexes: []int32{}, Generation: -1},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the SDK decoded\n%+v\nwant\n%+v", got, want)
	}
	a, err := pl.decode(res[4:], &spec)
	if err != nil {
		t.Fatal(err)
	}
	wantA := Assignment{
		Members: map[string]map[string][]int32{"m1": {"a": {0, 2}, "b": {0}}, "m2": nil, "m3": {"a": {1}}, "m4": nil},
		Lists:   map[string][]TopicPartition{"m1": {{"a", 0}, {"a", 2}, {"b", 0}}, "m2": {}, "m3": {{"a", 1}}, "m4": {}},
	}
	if !reflect.DeepEqual(a, wantA) {
		t.Fatalf("assignment\n%+v\nwant\n%+v", a, wantA)
	}
}

// checkAssignmentInvariants checks what a decoded assignment promises.
func checkAssignmentInvariants(t *testing.T, spec *GroupSpec, a Assignment) {
	t.Helper()
	subs := map[string]map[string]bool{}
	for _, m := range spec.Members {
		subs[m.ID] = map[string]bool{}
		for _, tp := range m.Topics {
			subs[m.ID][tp] = true
		}
	}
	seen := map[TopicPartition]bool{}
	for id, l := range a.Lists {
		var fromMap []TopicPartition
		for tp, ps := range a.Members[id] {
			for _, p := range ps {
				fromMap = append(fromMap, TopicPartition{tp, p})
			}
		}
		slices.SortFunc(fromMap, func(x, y TopicPartition) int { return strings.Compare(fmt.Sprint(x), fmt.Sprint(y)) })
		if len(fromMap) != len(l) {
			t.Fatalf("member %s: Members and Lists differ", id)
		}
		for _, tp := range l {
			if seen[tp] || !subs[id][tp.Topic] || tp.Partition < 0 || tp.Partition >= spec.Topics[tp.Topic] {
				t.Fatalf("member %s: bad %v", id, tp)
			}
			seen[tp] = true
		}
	}
}

// FuzzDecodeAssignment: whatever a guest returns, decoding it fails cleanly or yields an
// assignment that keeps its promises.
func FuzzDecodeAssignment(f *testing.F) {
	spec := testGroupSpec()
	pl, err := planAssign(&spec)
	if err != nil {
		f.Fatal(err)
	}
	valid := binary.LittleEndian.AppendUint32(nil, uint32(pl.total))
	for _, o := range []int32{0, 2, -1, 1, 1, 0} {
		valid = binary.LittleEndian.AppendUint32(valid, uint32(o))
	}
	f.Add(valid)
	f.Add(valid[:9])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, err := pl.decode(payload, &spec)
		if err == nil {
			checkAssignmentInvariants(t, &spec, a)
		}
	})
}

// FuzzDecodeTransformResult: a transform result decodes or fails without panicking, and
// never makes the host hold more bytes than the result had.
func FuzzDecodeTransformResult(f *testing.F) {
	sdk.RegisterTransform(func(_ string, _ int32, recs []sdk.Record) ([]sdk.Record, error) { return recs, nil })
	f.Add(slices.Clone(sdk.Handle(sdk.KindTransform, encodeForTest("t", 0, roundTripRecords))))
	sdk.RegisterTransform(nil)
	f.Add(make([]byte, transformHdrSize))
	f.Fuzz(func(t *testing.T, res []byte) {
		recs, err := decodeTransformResult(res)
		if err != nil {
			return
		}
		n := 0
		for _, r := range recs {
			n += len(r.Key) + len(r.Value)
			for _, h := range r.Headers {
				n += len(h.Key) + len(h.Value)
			}
		}
		if n > len(res) {
			t.Fatalf("%d bytes decoded from a result of %d", n, len(res))
		}
	})
}

// FuzzDecodePartitions: a partition result is accepted only with one in-range partition
// per record.
func FuzzDecodePartitions(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, int32(2), uint8(2))
	f.Add([]byte{1, 0, 0, 0, 5, 0, 0, 0}, int32(5), uint8(1))
	f.Fuzz(func(t *testing.T, payload []byte, n int32, count uint8) {
		if n <= 0 {
			return
		}
		out := make([]int32, count)
		if err := decodePartitions(payload, out, n); err != nil {
			return
		}
		if len(payload) != 4+4*int(count) {
			t.Fatalf("accepted %d bytes for %d records", len(payload), count)
		}
		for _, p := range out {
			if p < 0 || p >= n {
				t.Fatalf("partition %d accepted for n=%d", p, n)
			}
		}
	})
}

// TestMalformedResults: hand-written guests return malformed results; each call fails
// with ErrBadResult naming the problem, and the host carries on.
func TestMalformedResults(t *testing.T) {
	u32s := func(vs ...int64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		return b
	}
	spec := GroupSpec{Group: "g", Topics: map[string]int32{"a": 2},
		Members: []Member{{ID: "m1", Topics: []string{"a"}}, {ID: "m2"}}}
	for _, tc := range []struct {
		name   string
		result []byte
		call   kcall
		want   string
	}{
		{"partition count", u32s(0, 3, 0, 0, 0), mk(partitionCall(2)), "3 partitions for 2 records"},
		{"partition short", u32s(0, 2, 0), mk(partitionCall(2)), "malformed"},
		{"partition range", u32s(0, 2, 0, 7), mk(partitionCall(2)), "partition 7 out of range"},
		{"result too short", []byte{0, 0}, mk(partitionCall(2)), "too short"},
		{"unknown status", u32s(9), mk(partitionCall(2)), "unknown status 9"},
		{"assignment length", u32s(0, 2, 0), mk(assignCall(spec)), "owners in 4 bytes for 2 partitions"},
		{"assignment member", u32s(0, 2, 0, 5), mk(assignCall(spec)), "member index 5 out of range"},
		{"assignment not subscribed", u32s(0, 2, 0, 1), mk(assignCall(spec)), `given to "m2", which is not subscribed`},
		{"assignment garbage", append(u32s(0), `{"members": {}}`...), mk(assignCall(spec)), "assignment:"},
		{"transform tables", u32s(0, 0, 1000, 24, 0, 0), mk(transformCall()), "tables"},
		{"transform key", u32s(0, 0, 1, 24, 0, 0, 0, 0, 1<<20, 5, 0, 0xffffffff, 0, 0), mk(transformCall()), "points outside"},
		{"transform amplification", append(u32s(0, 0, 3, 24, 0, 0,
			0, 0, 0, 60, 0, 0xffffffff, 0, 0,
			0, 0, 0, 60, 0, 0xffffffff, 0, 0,
			0, 0, 0, 60, 0, 0xffffffff, 0, 0), make([]byte, 40)...), mk(transformCall()), "more bytes than the result holds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newRuntime(t, Config{}).Load(context.Background(), "garbage", resultModule(tc.result), tc.call.kind)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call.fn(p)
			if !errors.Is(err, ErrBadResult) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadResult containing %q", err, tc.want)
			}
		})
	}
}

// The hand-written module implements every kind; each call loads it as its kind.
type kcall struct {
	kind Kind
	fn   func(*Plugin) error
}

func mk(kind Kind, fn func(*Plugin) error) kcall { return kcall{kind, fn} }

func partitionCall(n int) (Kind, func(p *Plugin) error) {
	return KindPartitioner, func(p *Plugin) error {
		_, err := p.Partition(context.Background(), "t", 5, make([]Record, n))
		return err
	}
}

func assignCall(spec GroupSpec) (Kind, func(p *Plugin) error) {
	return KindAssignor, func(p *Plugin) error {
		_, err := p.Assign(context.Background(), spec)
		return err
	}
}

func transformCall() (Kind, func(p *Plugin) error) {
	return KindTransform, func(p *Plugin) error {
		_, err := p.Transform(context.Background(), "t", 0, nil)
		return err
	}
}
