package sdk

import (
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func partitionInput(topic string, n int32, recs []Record) []byte {
	b := appendU32(nil, uint32(len(topic)))
	b = append(b, topic...)
	b = appendU32(b, uint32(n))
	return appendRecords(b, recs)
}

func status(t *testing.T, out []byte) (uint32, []byte) {
	t.Helper()
	if len(out) < 4 {
		t.Fatalf("result of %d bytes", len(out))
	}
	return binary.LittleEndian.Uint32(out), out[4:]
}

func TestRecordsRoundTrip(t *testing.T) {
	in := []Record{
		{Timestamp: 1, Key: []byte("k"), Value: []byte("v"), Headers: []Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}},
		{Timestamp: -5, Key: nil, Value: []byte{}},
		{Timestamp: 9, Key: []byte{}, Value: nil, Headers: []Header{{Key: "a", Value: []byte{}}}},
	}
	d := decoder{b: appendRecords(nil, in)}
	got := d.records()
	if d.err != nil || len(d.b) != 0 {
		t.Fatalf("decode: err %v, %d bytes left", d.err, len(d.b))
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, in)
	}
}

func TestTruncatedInputs(t *testing.T) {
	full := partitionInput("t", 3, []Record{{Key: []byte("key"), Value: []byte("value"), Headers: []Header{{Key: "h", Value: []byte("x")}}}})
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
	in := partitionInput("orders", 4, []Record{{Key: []byte("a")}, {Key: []byte("b")}})
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
			st, payload := status(t, handlePartition(in, nil))
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

func TestAssignJSON(t *testing.T) {
	RegisterAssignor(func(s GroupSpec) (Assignment, error) {
		return Assignment{Members: map[string]map[string][]int32{s.Members[0].ID: {"t": {0, 1}}}}, nil
	})
	defer RegisterAssignor(nil)
	st, payload := status(t, handleAssign([]byte(`{"group":"g","members":[{"id":"m","topics":["t"]}],"topics":{"t":2}}`), nil))
	if st != StatusOK || string(payload) != `{"members":{"m":{"t":[0,1]}}}` {
		t.Fatalf("status %d payload %s", st, payload)
	}
	if st, _ := status(t, handleAssign([]byte(`{`), nil)); st != StatusBadInput {
		t.Fatalf("bad JSON: status %d", st)
	}
}
