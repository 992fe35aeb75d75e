package sdk

import (
	"errors"
	"unsafe"
)

// Record batches (docs/plugin-abi.md, "Record batches"). All integers little-endian;
// offsets are relative to the start of the buffer that holds the batch.
//
//	input  (partition, transform): 32-byte call header, record table, header table, data
//	  0 u32 topic_off   4 u32 topic_len   8 i32 arg (num_partitions | partition)   12 u32 0
//	 16 u32 record_count   20 u32 records_off   24 u32 header_count   28 u32 headers_off
//	record entry (32 bytes): 0 i64 timestamp_ms  8 u32 key_off  12 i32 key_len (-1 null)
//	  16 u32 value_off  20 i32 value_len (-1 null)  24 u32 headers_first  28 u32 headers_count
//	header entry (16 bytes): 0 u32 key_off  4 u32 key_len  8 u32 value_off  12 i32 value_len
//
//	partition result: 0 u32 status  4 u32 count  8 i32 partition[count]
//	transform result: 0 u32 status  4 u32 0  8 u32 record_count  12 u32 records_off
//	  16 u32 header_count  20 u32 headers_off, then tables and data (offsets from byte 0)
const (
	callHeaderSize   = 32
	recordEntrySize  = 32
	headerEntrySize  = 16
	transformHdrSize = 24
)

// errBadInput is the message of every malformed-input result: the host wrote the input,
// so a detailed reason would only describe a host bug.
var errBadInput = errors.New("malformed input batch")

// Decoded batches reuse these between calls: allocation is expensive in a Go guest.
var (
	recScratch []Record
	hdrScratch []Header
	topicCache string
)

// cachedString returns s as a string, reusing *cache when it holds the same bytes.
func cachedString(cache *string, b []byte) string {
	if *cache != string(b) {
		*cache = string(b)
	}
	return *cache
}

// span returns buf[off:off+n] (capacity-limited) or false if it lies outside buf.
func span(buf []byte, off uint32, n int32) ([]byte, bool) {
	if n < 0 {
		return nil, n == -1
	}
	end := uint64(off) + uint64(n)
	if end > uint64(len(buf)) {
		return nil, false
	}
	return buf[off:end:end], true
}

// spanU is span for a length that cannot be null.
func spanU(buf []byte, off, n uint32) ([]byte, bool) {
	end := uint64(off) + uint64(n)
	if end > uint64(len(buf)) {
		return nil, false
	}
	return buf[off:end:end], true
}

// decodeCall decodes a partition or transform input. The records alias in and the
// package's scratch slices.
//
// Go guests pay dearly for per-field pointer stores into the heap (each may call the GC
// write barrier, which makes the compiler keep every live value in memory). So the record
// table is first converted, with plain integer stores, into rawRecords (the memory layout
// of Record, without pointers as far as the GC knows), and then copied into the typed
// scratch slice at once, write barriers included. Every address written points into in
// (kept alive by the SDK) or into hdrScratch, or is nil.
func decodeCall(in []byte) (topic string, arg int32, recs []Record, err error) {
	if len(in) < callHeaderSize || !littleEndian {
		return "", 0, nil, errBadInput
	}
	tb, ok := spanU(in, le.Uint32(in[0:]), le.Uint32(in[4:]))
	if !ok {
		return "", 0, nil, errBadInput
	}
	topic = cachedString(&topicCache, tb)
	arg = int32(le.Uint32(in[8:]))
	n, recOff := le.Uint32(in[16:]), le.Uint32(in[20:])
	nh, hdrOff := le.Uint32(in[24:]), le.Uint32(in[28:])
	if uint64(recOff)+uint64(n)*recordEntrySize > uint64(len(in)) || recOff%8 != 0 ||
		uint64(hdrOff)+uint64(nh)*headerEntrySize > uint64(len(in)) {
		return "", 0, nil, errBadInput
	}
	if cap(recScratch) < int(n) {
		recScratch = make([]Record, n)
		rawScratch = make([]rawRecord, n)
	}
	if nh > 0 {
		if err := decodeHeaders(in, hdrOff, nh); err != nil {
			return "", 0, nil, err
		}
	}
	if n == 0 {
		return topic, arg, recScratch[:0], nil
	}
	tbl := unsafe.Slice((*recordEntry)(unsafe.Pointer(&in[recOff])), n)
	raw := rawScratch[:n]
	size := uint64(len(in))
	base := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	hbase := uintptr(unsafe.Pointer(unsafe.SliceData(hdrScratch)))
	for i := range raw {
		e := &tbl[i]
		w := &raw[i]
		w.timestamp = e.timestamp
		// A null length (0xffffffff) fails the range test like a span out of range.
		if uint64(e.keyOff)+uint64(e.keyLen) <= size {
			w.key = rawSlice{base + uintptr(e.keyOff), uintptr(e.keyLen), uintptr(e.keyLen)}
		} else if e.keyLen == 0xffffffff {
			w.key = rawSlice{}
		} else {
			return "", 0, nil, errBadInput
		}
		if uint64(e.valueOff)+uint64(e.valueLen) <= size {
			w.value = rawSlice{base + uintptr(e.valueOff), uintptr(e.valueLen), uintptr(e.valueLen)}
		} else if e.valueLen == 0xffffffff {
			w.value = rawSlice{}
		} else {
			return "", 0, nil, errBadInput
		}
		if e.headersCount == 0 {
			w.headers = rawSlice{}
		} else if uint64(e.headersFirst)+uint64(e.headersCount) <= uint64(nh) {
			w.headers = rawSlice{hbase + uintptr(e.headersFirst)*unsafe.Sizeof(Header{}), uintptr(e.headersCount), uintptr(e.headersCount)}
		} else {
			return "", 0, nil, errBadInput
		}
	}
	recs = recScratch[:n]
	copy(recs, unsafe.Slice((*Record)(unsafe.Pointer(&raw[0])), n))
	return topic, arg, recs, nil
}

// recordEntry is the in-memory view of a record table entry.
type recordEntry struct {
	timestamp    int64
	keyOff       uint32
	keyLen       uint32
	valueOff     uint32
	valueLen     uint32
	headersFirst uint32
	headersCount uint32
}

// rawSlice and rawRecord have the memory layout of a slice and of Record.
type rawSlice struct{ ptr, len, cap uintptr }

type rawRecord struct {
	timestamp           int64
	key, value, headers rawSlice
}

var rawScratch []rawRecord

// decodeHeaders decodes the header table into hdrScratch, the same way as the records:
// plain stores into rawHeaders, then one typed copy. Every key is an interned string kept
// alive by keyCache or liveKeys until the copy.
func decodeHeaders(in []byte, hdrOff, nh uint32) error {
	if cap(hdrScratch) < int(nh) {
		hdrScratch = make([]Header, nh)
		rawHdrScratch = make([]rawHeader, nh)
	}
	liveKeys = liveKeys[:0]
	raw := rawHdrScratch[:nh]
	size := uint64(len(in))
	base := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	if hdrOff%4 != 0 {
		return errBadInput
	}
	tbl := unsafe.Slice((*headerEntry)(unsafe.Pointer(&in[hdrOff])), nh)
	for j := range raw {
		e := &tbl[j]
		ko, kl, vo, vl := e.keyOff, e.keyLen, e.valueOff, e.valueLen
		if uint64(ko)+uint64(kl) > size {
			return errBadInput
		}
		w := &raw[j]
		k := intern(in[ko : ko+kl])
		w.key = rawString{uintptr(unsafe.Pointer(unsafe.StringData(k))), uintptr(len(k))}
		if uint64(vo)+uint64(vl) <= size {
			w.value = rawSlice{base + uintptr(vo), uintptr(vl), uintptr(vl)}
		} else if vl == 0xffffffff {
			w.value = rawSlice{}
		} else {
			return errBadInput
		}
	}
	if nh > 0 {
		copy(hdrScratch[:nh], unsafe.Slice((*Header)(unsafe.Pointer(&raw[0])), nh))
	}
	return nil
}

// headerEntry is the in-memory view of a header table entry.
type headerEntry struct{ keyOff, keyLen, valueOff, valueLen uint32 }

// rawString and rawHeader have the memory layout of a string and of Header.
type rawString struct{ ptr, len uintptr }

type rawHeader struct {
	key   rawString
	value rawSlice
}

var rawHdrScratch []rawHeader

// keyCache holds the header keys seen recently, by a hash of their length and ends: keys
// repeat from record to record. Keys created during a call are also kept in liveKeys until
// the call's headers are copied (a newer key may take an older one's slot).
var (
	keyCache [64]string
	liveKeys []string
)

func intern(b []byte) string {
	h := len(b) * 31
	if len(b) > 0 {
		h += int(b[0])*7 + int(b[len(b)-1])
	}
	slot := &keyCache[h&(len(keyCache)-1)]
	if *slot == string(b) {
		return *slot
	}
	s := string(b)
	*slot = s
	liveKeys = append(liveKeys, s)
	return s
}

var partitionBuf []int32

// PartitionBuffer returns a slice of n partitions that the SDK reuses from call to call.
// A partitioner can fill it and return it instead of allocating a result per batch:
// allocation is expensive in a Go guest (the garbage collector runs inside the calls), and
// the more so the larger the batch. The slice is valid until the next call.
func PartitionBuffer(n int) []int32 {
	if cap(partitionBuf) < n {
		partitionBuf = make([]int32, n)
	}
	return partitionBuf[:n]
}

// handlePartition decodes a partition input, runs the partitioner and encodes the result
// into out (reused).
func handlePartition(in, out []byte) []byte {
	if partitioner == nil {
		return errResult(out, StatusNotRegistered, "sdk: no partitioner registered")
	}
	return guard(out, func(out []byte) []byte {
		topic, n, recs, err := decodeCall(in)
		if err != nil {
			return errResult(out, StatusBadInput, "sdk: partition: "+err.Error())
		}
		parts, err := partitioner(topic, n, recs)
		if err != nil {
			return errResult(out, StatusFailed, err.Error())
		}
		size := 8 + 4*len(parts)
		if cap(out) < size {
			out = make([]byte, 0, size+size/4)
		}
		out = out[:size]
		le.PutUint32(out[0:], StatusOK)
		le.PutUint32(out[4:], uint32(len(parts)))
		putInt32s(out[8:], parts)
		return out
	})
}

// putInt32s writes v little-endian into b (len(b) ≥ 4*len(v)) with one copy.
func putInt32s(b []byte, v []int32) {
	if len(v) == 0 {
		return
	}
	if littleEndian {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v)))
		return
	}
	for i, p := range v {
		le.PutUint32(b[4*i:], uint32(p))
	}
}

func handleTransform(in, out []byte) []byte {
	if transformer == nil {
		return errResult(out, StatusNotRegistered, "sdk: no transform registered")
	}
	return guard(out, func(out []byte) []byte {
		topic, part, recs, err := decodeCall(in)
		if err != nil {
			return errResult(out, StatusBadInput, "sdk: transform: "+err.Error())
		}
		res, err := transformer(topic, part, recs)
		if err != nil {
			return errResult(out, StatusFailed, err.Error())
		}
		// The result may alias the input buffer; out is a distinct buffer.
		return encodeTransformResult(out[:0], res)
	})
}

// encodeTransformResult writes a transform result: header, record table, header table,
// data.
func encodeTransformResult(out []byte, recs []Record) []byte {
	nh, data := 0, 0
	for i := range recs {
		r := &recs[i]
		nh += len(r.Headers)
		data += len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			data += len(h.Key) + len(h.Value)
		}
	}
	recOff := transformHdrSize
	hdrOff := recOff + len(recs)*recordEntrySize
	dataOff := hdrOff + nh*headerEntrySize
	size := dataOff + data
	if cap(out) < size {
		out = make([]byte, 0, size+size/4)
	}
	out = out[:size]
	le.PutUint32(out[0:], StatusOK)
	le.PutUint32(out[4:], 0)
	le.PutUint32(out[8:], uint32(len(recs)))
	le.PutUint32(out[12:], uint32(recOff))
	le.PutUint32(out[16:], uint32(nh))
	le.PutUint32(out[20:], uint32(hdrOff))
	d := dataOff
	put := func(at int, v []byte, nullable bool) {
		le.PutUint32(out[at:], uint32(d))
		if v == nil && nullable {
			le.PutUint32(out[at+4:], 0xffffffff)
			return
		}
		le.PutUint32(out[at+4:], uint32(len(v)))
		d += copy(out[d:], v)
	}
	h := 0
	for i := range recs {
		r := &recs[i]
		e := recOff + i*recordEntrySize
		le.PutUint64(out[e:], uint64(r.Timestamp))
		put(e+8, r.Key, true)
		put(e+16, r.Value, true)
		le.PutUint32(out[e+24:], uint32(h))
		le.PutUint32(out[e+28:], uint32(len(r.Headers)))
		for _, hd := range r.Headers {
			he := hdrOff + h*headerEntrySize
			le.PutUint32(out[he:], uint32(d))
			le.PutUint32(out[he+4:], uint32(len(hd.Key)))
			d += copy(out[d:], hd.Key)
			put(he+8, hd.Value, true)
			h++
		}
	}
	return out
}
