package wasmhost

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Guest status codes (first u32 of every result).
const (
	statusOK            = 0
	statusPanic         = 1
	statusFailed        = 2
	statusBadInput      = 3
	statusNotRegistered = 4
)

// Record batch layout, ABI v2 (docs/plugin-abi.md). Offsets are relative to the start of
// the buffer holding the batch; tables are 8-byte aligned.
const (
	callHeaderSize   = 32 // topic_off topic_len arg 0 record_count records_off header_count headers_off
	recordEntrySize  = 32 // i64 ts, key_off, key_len, value_off, value_len, headers_first, headers_count
	headerEntrySize  = 16 // key_off, key_len, value_off, value_len
	transformHdrSize = 24 // status 0 record_count records_off header_count headers_off
)

var le = binary.LittleEndian

// nullLen encodes the length of a nullable byte string.
func nullLen(v []byte) uint32 {
	if v == nil {
		return 0xffffffff
	}
	return uint32(len(v))
}

// batchSize returns the number of headers and the bytes of data of recs.
func batchSize(recs []Record) (headers, data int) {
	for i := range recs {
		r := &recs[i]
		headers += len(r.Headers)
		data += len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			data += len(h.Key) + len(h.Value)
		}
	}
	return headers, data
}

// callSize is the encoded size of a partition or transform input.
func callSize(topic string, recs []Record) int {
	nh, data := batchSize(recs)
	return callHeaderSize + len(recs)*recordEntrySize + nh*headerEntrySize + len(topic) + data
}

// encodeCall writes a partition or transform input into b, which must hold exactly
// callSize(topic, recs) bytes: call header, record table, header table, then the topic,
// keys, values and header strings.
func encodeCall(b []byte, topic string, arg int32, recs []Record) {
	nh := 0
	for i := range recs {
		nh += len(recs[i].Headers)
	}
	recOff := callHeaderSize
	hdrOff := recOff + len(recs)*recordEntrySize
	d := hdrOff + nh*headerEntrySize
	le.PutUint32(b[0:], uint32(d))
	le.PutUint32(b[4:], uint32(len(topic)))
	d += copy(b[d:], topic)
	le.PutUint32(b[8:], uint32(arg))
	le.PutUint32(b[12:], 0)
	le.PutUint32(b[16:], uint32(len(recs)))
	le.PutUint32(b[20:], uint32(recOff))
	le.PutUint32(b[24:], uint32(nh))
	le.PutUint32(b[28:], uint32(hdrOff))
	h := 0
	for i := range recs {
		r := &recs[i]
		e := b[recOff+i*recordEntrySize : recOff+i*recordEntrySize+recordEntrySize]
		le.PutUint64(e[0:], uint64(r.Timestamp))
		le.PutUint32(e[8:], uint32(d))
		le.PutUint32(e[12:], nullLen(r.Key))
		d += copy(b[d:], r.Key)
		le.PutUint32(e[16:], uint32(d))
		le.PutUint32(e[20:], nullLen(r.Value))
		d += copy(b[d:], r.Value)
		le.PutUint32(e[24:], uint32(h))
		le.PutUint32(e[28:], uint32(len(r.Headers)))
		for _, hd := range r.Headers {
			he := b[hdrOff+h*headerEntrySize : hdrOff+h*headerEntrySize+headerEntrySize]
			le.PutUint32(he[0:], uint32(d))
			le.PutUint32(he[4:], uint32(len(hd.Key)))
			d += copy(b[d:], hd.Key)
			le.PutUint32(he[8:], uint32(d))
			le.PutUint32(he[12:], nullLen(hd.Value))
			d += copy(b[d:], hd.Value)
			h++
		}
	}
}

// decodePartitions checks a partition result payload (after the status) and writes it
// into out (len(out) records, partitions in [0, n)).
func decodePartitions(payload []byte, out []int32, n int32) error {
	if len(payload) < 4 {
		return fmt.Errorf("partition result: %d bytes", len(payload))
	}
	cnt := le.Uint32(payload)
	if uint64(cnt)*4 != uint64(len(payload)-4) {
		return fmt.Errorf("partition result: malformed (count %d, %d bytes)", cnt, len(payload)-4)
	}
	if int(cnt) != len(out) {
		return fmt.Errorf("partition result: %d partitions for %d records", cnt, len(out))
	}
	ps := payload[4:]
	bad := -1
	for i := range out {
		p := int32(le.Uint32(ps[4*i:]))
		if uint32(p) >= uint32(n) && bad < 0 {
			bad = i
		}
		out[i] = p
	}
	if bad >= 0 {
		return fmt.Errorf("partition result: record %d: partition %d out of range [0,%d)", bad, out[bad], n)
	}
	return nil
}

var errOutside = errors.New("points outside the result")

// span returns buf[off:off+n] for a nullable length (-1: nil).
func span(buf []byte, off, n uint32) ([]byte, error) {
	if n == 0xffffffff {
		return nil, nil
	}
	end := uint64(off) + uint64(n)
	if end > uint64(len(buf)) {
		return nil, errOutside
	}
	return buf[off:end:end], nil
}

// decodeTransformResult decodes a transform result (the whole result buffer, status
// included). Everything returned is copied out of res.
func decodeTransformResult(res []byte) ([]Record, error) {
	if len(res) < transformHdrSize {
		return nil, fmt.Errorf("transform result: %d bytes", len(res))
	}
	n, recOff := le.Uint32(res[8:]), le.Uint32(res[12:])
	nh, hdrOff := le.Uint32(res[16:]), le.Uint32(res[20:])
	if uint64(recOff)+uint64(n)*recordEntrySize > uint64(len(res)) ||
		uint64(hdrOff)+uint64(nh)*headerEntrySize > uint64(len(res)) {
		return nil, fmt.Errorf("transform result: tables (%d records, %d headers) %v", n, nh, errOutside)
	}
	// One copy of the data for the whole batch; records slice into it. The strings the
	// result references may not add up to more than its size, so a guest cannot make the
	// host copy the same bytes over and over.
	data := make([]byte, 0, len(res))
	budget := len(res)
	keep := func(v []byte) []byte {
		if v == nil || len(v) > budget {
			budget -= len(v)
			return nil
		}
		budget -= len(v)
		at := len(data)
		data = append(data, v...)
		return data[at:len(data):len(data)]
	}
	out := make([]Record, n)
	var hdrs []Header
	if nh > 0 {
		hdrs = make([]Header, nh)
	}
	used := make([]bool, nh)
	for i := range out {
		e := res[recOff+uint32(i)*recordEntrySize:]
		k, err1 := span(res, le.Uint32(e[8:]), le.Uint32(e[12:]))
		v, err2 := span(res, le.Uint32(e[16:]), le.Uint32(e[20:]))
		first, cnt := le.Uint32(e[24:]), le.Uint32(e[28:])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("transform result: record %d: %w", i, err)
		}
		if uint64(first)+uint64(cnt) > uint64(nh) {
			return nil, fmt.Errorf("transform result: record %d: headers [%d,+%d) outside the %d headers", i, first, cnt, nh)
		}
		out[i] = Record{Timestamp: int64(le.Uint64(e[0:])), Key: keep(k), Value: keep(v)}
		if cnt == 0 {
			continue
		}
		for j := first; j < first+cnt; j++ {
			if used[j] {
				return nil, fmt.Errorf("transform result: record %d: header %d shared with another record", i, j)
			}
			used[j] = true
			he := res[hdrOff+j*headerEntrySize:]
			hk, err1 := span(res, le.Uint32(he[0:]), le.Uint32(he[4:]))
			hv, err2 := span(res, le.Uint32(he[8:]), le.Uint32(he[12:]))
			if hk == nil && err1 == nil {
				err1 = errors.New("null header key")
			}
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("transform result: record %d: header %d: %w", i, j-first, err)
			}
			if budget -= len(hk); budget < 0 {
				break
			}
			hdrs[j] = Header{Key: string(hk), Value: keep(hv)}
		}
		out[i].Headers = hdrs[first : first+cnt : first+cnt]
	}
	if budget < 0 {
		return nil, fmt.Errorf("transform result: records reference more bytes than the result holds")
	}
	return out, nil
}
