package wasmhost

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Guest status codes (first u32 of every result), ABI v1.
const (
	statusOK            = 0
	statusPanic         = 1
	statusFailed        = 2
	statusBadInput      = 3
	statusNotRegistered = 4
)

func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func appendStr(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

func appendNullable(b, v []byte) []byte {
	if v == nil {
		return appendU32(b, 0xFFFFFFFF)
	}
	b = appendU32(b, uint32(len(v)))
	return append(b, v...)
}

func appendRecords(b []byte, recs []Record) []byte {
	b = appendU32(b, uint32(len(recs)))
	for i := range recs {
		r := &recs[i]
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Timestamp))
		b = appendNullable(b, r.Key)
		b = appendNullable(b, r.Value)
		b = appendU32(b, uint32(len(r.Headers)))
		for _, h := range r.Headers {
			b = appendStr(b, h.Key)
			b = appendNullable(b, h.Value)
		}
	}
	return b
}

// encodePartition encodes a partition call input: u32 tlen, topic, i32 n, records.
func encodePartition(b []byte, topic string, n int32, recs []Record) []byte {
	b = appendStr(b, topic)
	b = appendU32(b, uint32(n))
	return appendRecords(b, recs)
}

// encodeTransform encodes a transform call input: u32 tlen, topic, i32 partition, records.
func encodeTransform(b []byte, topic string, partition int32, recs []Record) []byte {
	b = appendStr(b, topic)
	b = appendU32(b, uint32(partition))
	return appendRecords(b, recs)
}

var errTruncated = errors.New("truncated")

// reader decodes guest output; it copies everything it returns because the guest memory
// is reused by the next call.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errTruncated
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	v := r.take(4)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v)
}

func (r *reader) u64() uint64 {
	v := r.take(8)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

func (r *reader) nullable() []byte {
	n := int32(r.u32())
	if n == -1 || r.err != nil {
		return nil
	}
	v := r.take(int(n))
	if r.err != nil {
		return nil
	}
	return append([]byte{}, v...)
}

// decodePartitions decodes a partition result payload (after the status) and checks
// count and range.
func decodePartitions(payload []byte, want int, n int32) ([]int32, error) {
	r := reader{b: payload}
	cnt := r.u32()
	if r.err != nil || uint64(cnt)*4 != uint64(len(r.b)) {
		return nil, fmt.Errorf("partition result: malformed (count %d, %d bytes)", cnt, len(r.b))
	}
	if int(cnt) != want {
		return nil, fmt.Errorf("partition result: %d partitions for %d records", cnt, want)
	}
	out := make([]int32, cnt)
	for i := range out {
		p := int32(r.u32())
		if p < 0 || p >= n {
			return nil, fmt.Errorf("partition result: record %d: partition %d out of range [0,%d)", i, p, n)
		}
		out[i] = p
	}
	return out, nil
}

// decodeRecords decodes a records payload (transform result).
func decodeRecords(payload []byte) ([]Record, error) {
	r := reader{b: payload}
	cnt := r.u32()
	if r.err != nil || uint64(cnt)*20 > uint64(len(r.b)) {
		return nil, fmt.Errorf("transform result: malformed record count %d", cnt)
	}
	out := make([]Record, cnt)
	for i := range out {
		rec := &out[i]
		rec.Timestamp = int64(r.u64())
		rec.Key = r.nullable()
		rec.Value = r.nullable()
		nh := r.u32()
		if r.err != nil || uint64(nh)*8 > uint64(len(r.b)) {
			return nil, fmt.Errorf("transform result: record %d: malformed headers", i)
		}
		for j := uint32(0); j < nh; j++ {
			k := string(r.take(int(r.u32())))
			rec.Headers = append(rec.Headers, Header{Key: k, Value: r.nullable()})
		}
		if r.err != nil {
			return nil, fmt.Errorf("transform result: record %d: %w", i, r.err)
		}
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("transform result: %d trailing bytes", len(r.b))
	}
	return out, nil
}
