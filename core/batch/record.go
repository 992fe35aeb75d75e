package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
)

// RecordHeader is one record header. A nil Value is a null value; keys are
// never null.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Record is one decoded record of a batch. Key and Value are nil for null;
// when decoded from an uncompressed batch they alias the batch's bytes.
type Record struct {
	Attributes     int8
	TimestampDelta int64 // ms from the batch's BaseTimestamp
	OffsetDelta    int32 // offset from the batch's BaseOffset
	Key, Value     []byte
	Headers        []RecordHeader
}

// minRecordLen is the smallest possible encoded record: a one-byte length,
// attributes, timestamp and offset deltas, key and value lengths and header
// count of one byte each.
const minRecordLen = 7

var (
	errVarint   = errors.New("malformed varint")
	errNegative = errors.New("negative length")
	errOverrun  = errors.New("length runs past the record")
)

// decoder reads the fields of one record body; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) varlong() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errVarint)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int32 {
	v := d.varlong()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail(errVarint)
		return 0
	}
	return int32(v)
}

func (d *decoder) int8() int8 {
	if len(d.b) < 1 {
		d.fail(errOverrun)
		return 0
	}
	v := int8(d.b[0])
	d.b = d.b[1:]
	return v
}

// bytes reads a varint length and that many bytes; -1 is null (nil) when
// nullable.
func (d *decoder) bytes(nullable bool) []byte {
	n := d.varint()
	switch {
	case d.err != nil:
		return nil
	case n == -1 && nullable:
		return nil
	case n < 0:
		d.fail(errNegative)
		return nil
	case int(n) > len(d.b):
		d.fail(errOverrun)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// decodeRecord decodes the record at the start of b and returns the bytes it
// took. Without full, headers are checked but not kept (no allocation).
func decodeRecord(b []byte, full bool) (Record, int, error) {
	size, n := binary.Varint(b)
	if n <= 0 {
		return Record{}, 0, fmt.Errorf("length: %w", errVarint)
	}
	if size < 0 || size > int64(len(b)-n) {
		return Record{}, 0, fmt.Errorf("length %d but %d bytes remain", size, len(b)-n)
	}
	d := decoder{b: b[n : n+int(size)]}
	var r Record
	r.Attributes = d.int8()
	r.TimestampDelta = d.varlong()
	r.OffsetDelta = d.varint()
	r.Key = d.bytes(true)
	r.Value = d.bytes(true)
	nh := d.varint()
	if d.err == nil && (nh < 0 || int(nh) > len(d.b)/2) {
		return Record{}, 0, fmt.Errorf("header count %d invalid for %d remaining bytes", nh, len(d.b))
	}
	if full && nh > 0 {
		r.Headers = make([]RecordHeader, 0, nh)
	}
	for i := int32(0); i < nh && d.err == nil; i++ {
		k := d.bytes(false)
		v := d.bytes(true)
		if full && d.err == nil {
			r.Headers = append(r.Headers, RecordHeader{Key: string(k), Value: v})
		}
	}
	if d.err != nil {
		return Record{}, 0, d.err
	}
	if len(d.b) != 0 {
		return Record{}, 0, fmt.Errorf("length %d leaves %d unread bytes", size, len(d.b))
	}
	return r, n + int(size), nil
}

// walkRecords decodes the want records in data (uncompressed record bytes)
// and calls fn for each; fn may return an error to stop. Framing problems,
// a count other than want and trailing bytes are CORRUPT_MESSAGE.
func walkRecords(data []byte, want int32, full bool, fn func(i int, r *Record) error) error {
	i := 0
	var r Record // one per walk: &r escapes through fn
	for ; len(data) > 0; i++ {
		if i == int(want) {
			return errorf(kerr.CorruptMessage, "%d bytes after the %d records the batch declares", len(data), want)
		}
		var n int
		var err error
		r, n, err = decodeRecord(data, full)
		if err != nil {
			return errorf(kerr.CorruptMessage, "record %d: %v", i, err)
		}
		data = data[n:]
		if err := fn(i, &r); err != nil {
			return err
		}
	}
	if i != int(want) {
		return errorf(kerr.CorruptMessage, "batch declares %d records but holds %d", want, i)
	}
	return nil
}

// recordData returns the (decompressed) record bytes of the whole batch b.
func recordData(b []byte, h Header, max int) ([]byte, error) {
	return recordDataWith(b, h, max, DecompressMax)
}

// recordDataWith is recordData with decompress doing the decompression.
func recordDataWith(b []byte, h Header, max int, decompress func(Codec, []byte, int) ([]byte, error)) ([]byte, error) {
	data := b[HeaderLen:h.TotalSize()]
	c := h.Codec()
	if c == CodecNone {
		return data, nil
	}
	if !c.Known() {
		return nil, errorf(kerr.UnsupportedCompressionType, "unknown compression codec %d", c)
	}
	out, err := decompress(c, data, max)
	if errors.Is(err, ErrDecompressLimit) {
		return nil, errorf(kerr.MessageTooLarge, "%s records decompress to more than %d bytes", c, max)
	}
	if err != nil {
		return nil, errorf(kerr.CorruptMessage, "%v", err)
	}
	return out, nil
}

// wholeHeader parses the header of the batch at the start of b and checks
// that it is a whole v2 batch (bytes after it are ignored). It does not
// check the CRC.
func wholeHeader(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, errorf(kerr.CorruptMessage, "%d bytes is shorter than the %d-byte batch header", len(b), HeaderLen)
	}
	if h.Magic != MagicV2 {
		return h, errorf(kerr.CorruptMessage, "magic %d: only record batch magic 2 is supported", h.Magic)
	}
	if h.Length < minLength || int64(h.Length)+LogOverhead > int64(len(b)) {
		return h, errorf(kerr.CorruptMessage, "length field %d does not fit the %d bytes given", h.Length, len(b))
	}
	return h, nil
}

// Records decodes every record of the batch at the start of b, decompressing
// as needed (at most DefaultMaxDecompressed bytes). The CRC is not checked.
func Records(b []byte) (Header, []Record, error) {
	h, err := wholeHeader(b)
	if err != nil {
		return h, nil, err
	}
	data, err := recordData(b, h, DefaultMaxDecompressed)
	if err != nil {
		return h, nil, err
	}
	n := min(max(int(h.NumRecords), 0), len(data)/minRecordLen)
	recs := make([]Record, 0, n)
	err = walkRecords(data, h.NumRecords, true, func(_ int, r *Record) error {
		recs = append(recs, *r)
		return nil
	})
	if err != nil {
		return h, nil, err
	}
	return h, recs, nil
}

// RecordTimestamps calls fn with the absolute offset and timestamp of each
// record of the batch at the start of b, in order, until fn returns false.
// In a LogAppendTime batch every timestamp is MaxTimestamp. Compressed
// batches are decompressed; the CRC is not checked.
func RecordTimestamps(b []byte, fn func(offset int64, ts int64) bool) error {
	h, err := wholeHeader(b)
	if err != nil {
		return err
	}
	data, err := recordData(b, h, DefaultMaxDecompressed)
	if err != nil {
		return err
	}
	err = walkRecords(data, h.NumRecords, false, func(_ int, r *Record) error {
		if !fn(h.BaseOffset+int64(r.OffsetDelta), h.RecordTimestamp(*r)) {
			return errStop
		}
		return nil
	})
	if err == errStop {
		return nil
	}
	return err
}

var errStop = errors.New("stop")

// appendRecord appends r's encoding to dst.
func appendRecord(dst []byte, r *Record) []byte {
	size := 1 + varlongLen(r.TimestampDelta) + varlongLen(int64(r.OffsetDelta)) +
		nullableLen(r.Key) + nullableLen(r.Value) + varlongLen(int64(len(r.Headers)))
	for _, h := range r.Headers {
		size += varlongLen(int64(len(h.Key))) + len(h.Key) + nullableLen(h.Value)
	}
	dst = binary.AppendVarint(dst, int64(size))
	dst = append(dst, byte(r.Attributes))
	dst = binary.AppendVarint(dst, r.TimestampDelta)
	dst = binary.AppendVarint(dst, int64(r.OffsetDelta))
	dst = appendNullable(dst, r.Key)
	dst = appendNullable(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullable(dst, h.Value)
	}
	return dst
}

func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

func nullableLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varlongLen(int64(len(b))) + len(b)
}

// varlongLen is the size of v as a zigzag varint.
func varlongLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
