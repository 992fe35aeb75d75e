package sdk

import "strconv"

// ABIVersion is the plugin ABI version this SDK implements (export abi_version).
const ABIVersion = 2

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

// Handle runs one call of the given kind exactly as the plugin's export does: in is an
// input buffer in the ABI encoding, the result is the result buffer (status first). The
// result is reused by the next call. Hosts use the exports; Handle exists so that the
// encodings can be tested natively, outside a WebAssembly runtime.
func Handle(kind int32, in []byte) []byte {
	switch kind {
	case KindPartitioner:
		outBuf = handlePartition(in, outBuf)
	case KindTransform:
		outBuf = handleTransform(in, outBuf)
	case KindAssignor:
		outBuf = handleAssign(in, outBuf)
	default:
		outBuf = errResult(outBuf, StatusNotRegistered, "sdk: unknown kind "+strconv.Itoa(int(kind)))
	}
	return outBuf
}

// outBuf is the result of the last call; valid until the next call.
var outBuf = make([]byte, 0, 64<<10)

// errResult encodes an error result into out.
func errResult(out []byte, status uint32, msg string) []byte {
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage]
	}
	out = le.AppendUint32(out[:0], status)
	return append(out, msg...)
}

// guard runs fn and converts a panic into a StatusPanic result.
func guard(out []byte, fn func(out []byte) []byte) (res []byte) {
	defer func() {
		if r := recover(); r != nil {
			res = errResult(out, StatusPanic, panicString(r))
		}
	}()
	return fn(out)
}

// panicString describes a recovered panic value without fmt.
func panicString(v any) string {
	switch v := v.(type) {
	case error:
		return v.Error()
	case string:
		return v
	case interface{ String() string }:
		return v.String()
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	return "panic with a value that is not an error, string or integer"
}
