package sdk

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
)

// ABIVersion is the plugin ABI version this SDK implements (export abi_version).
const ABIVersion = 1

// Kind bits returned by the plugin_kinds export.
const (
	KindPartitioner = 1 << 0
	KindAssignor    = 1 << 1
	KindTransform   = 1 << 2
)

// Status codes: the first u32 of every result buffer. Part of the ABI.
const (
	StatusOK            = 0
	StatusPanic         = 1 // the registered function panicked; message = panic value
	StatusFailed        = 2 // the registered function returned an error; message = error text
	StatusBadInput      = 3 // the input buffer could not be decoded
	StatusNotRegistered = 4 // no function of this kind was registered
)

// maxErrorMessage bounds the error message written to the result buffer.
const maxErrorMessage = 4096

// Header is a record header. A nil Value is a null header value.
type Header struct {
	Key   string
	Value []byte
}

// Record is one record of a batch. A nil Key or Value is null. Timestamp is in
// milliseconds since the Unix epoch.
type Record struct {
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []Header
}

// PartitionFunc returns one partition in [0, numPartitions) per record, in order.
type PartitionFunc func(topic string, numPartitions int32, records []Record) ([]int32, error)

// TransformFunc maps a batch of records of topic/partition to zero or more records.
type TransformFunc func(topic string, partition int32, records []Record) ([]Record, error)

// AssignFunc computes a consumer group assignment.
type AssignFunc func(spec GroupSpec) (Assignment, error)

// GroupSpec is the assignor input (JSON encoded on the wire).
type GroupSpec struct {
	Group   string           `json:"group"`
	Members []Member         `json:"members"`
	Topics  map[string]int32 `json:"topics"` // topic -> partition count
}

// Member is one group member. UserData is base64 in JSON.
type Member struct {
	ID       string             `json:"id"`
	Topics   []string           `json:"topics"`
	UserData []byte             `json:"user_data,omitempty"`
	Owned    map[string][]int32 `json:"owned,omitempty"`
}

// Assignment maps member id -> topic -> partitions.
type Assignment struct {
	Members map[string]map[string][]int32 `json:"members"`
}

var (
	partitioner PartitionFunc
	transformer TransformFunc
	assignor    AssignFunc
)

// RegisterPartitioner registers the plugin's partitioner. Call it from init.
func RegisterPartitioner(fn PartitionFunc) { partitioner = fn }

// RegisterTransform registers the plugin's transform. Call it from init.
func RegisterTransform(fn TransformFunc) { transformer = fn }

// RegisterAssignor registers the plugin's group assignor. Call it from init.
func RegisterAssignor(fn AssignFunc) { assignor = fn }

func registeredKinds() int32 {
	var k int32
	if partitioner != nil {
		k |= KindPartitioner
	}
	if assignor != nil {
		k |= KindAssignor
	}
	if transformer != nil {
		k |= KindTransform
	}
	return k
}

// errResult encodes an error result into out.
func errResult(out []byte, status uint32, msg string) []byte {
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage]
	}
	out = appendU32(out[:0], status)
	return append(out, msg...)
}

// guard runs fn and converts a panic into a StatusPanic result.
func guard(out []byte, fn func(out []byte) []byte) (res []byte) {
	defer func() {
		if r := recover(); r != nil {
			res = errResult(out, StatusPanic, fmt.Sprint(r))
		}
	}()
	return fn(out)
}

// handlePartition decodes a partition input, runs the partitioner and encodes the result
// into out (reused).
func handlePartition(in, out []byte) []byte {
	if partitioner == nil {
		return errResult(out, StatusNotRegistered, "sdk: no partitioner registered")
	}
	return guard(out, func(out []byte) []byte {
		d := decoder{b: in}
		topic := d.str()
		n := d.i32()
		recs := d.records()
		if d.err != nil {
			return errResult(out, StatusBadInput, "sdk: partition input: "+d.err.Error())
		}
		parts, err := partitioner(topic, n, recs)
		if err != nil {
			return errResult(out, StatusFailed, err.Error())
		}
		out = appendU32(out[:0], StatusOK)
		out = appendU32(out, uint32(len(parts)))
		out = slices.Grow(out, 4*len(parts))
		b := out[len(out) : len(out)+4*len(parts)]
		for i, p := range parts {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(p))
		}
		return out[:len(out)+len(b)]
	})
}

func handleTransform(in, out []byte) []byte {
	if transformer == nil {
		return errResult(out, StatusNotRegistered, "sdk: no transform registered")
	}
	return guard(out, func(out []byte) []byte {
		d := decoder{b: in}
		topic := d.str()
		part := d.i32()
		recs := d.records()
		if d.err != nil {
			return errResult(out, StatusBadInput, "sdk: transform input: "+d.err.Error())
		}
		res, err := transformer(topic, part, recs)
		if err != nil {
			return errResult(out, StatusFailed, err.Error())
		}
		// The result may alias the input buffer; out is a distinct buffer.
		out = appendU32(out[:0], StatusOK)
		return appendRecords(out, res)
	})
}

func handleAssign(in, out []byte) []byte {
	if assignor == nil {
		return errResult(out, StatusNotRegistered, "sdk: no assignor registered")
	}
	return guard(out, func(out []byte) []byte {
		var spec GroupSpec
		if err := json.Unmarshal(in, &spec); err != nil {
			return errResult(out, StatusBadInput, "sdk: assign input: "+err.Error())
		}
		a, err := assignor(spec)
		if err != nil {
			return errResult(out, StatusFailed, err.Error())
		}
		js, err := json.Marshal(a)
		if err != nil {
			return errResult(out, StatusFailed, "sdk: encode assignment: "+err.Error())
		}
		out = appendU32(out[:0], StatusOK)
		return append(out, js...)
	})
}
