package batch

import "github.com/twmb/franz-go/pkg/kerr"

// RecordIter walks the encoded records of one batch's record data (the bytes
// after the header, decompressed: see Codecs.RecordData) without allocating.
// Each record's Key and Value alias the data; headers are checked but not
// decoded (Record.Headers stays nil). Use it where records are only looked at
// or copied as they are (the log cleaner); Records decodes everything.
//
//	it := batch.NewRecordIter(data, h.NumRecords)
//	var r batch.Record
//	for enc, ok := it.Next(&r); ok; enc, ok = it.Next(&r) { ... }
//	if err := it.Err(); err != nil { ... }
type RecordIter struct {
	data []byte
	want int32
	i    int32
	err  error
}

// NewRecordIter returns an iterator over the numRecords records in data.
func NewRecordIter(data []byte, numRecords int32) RecordIter {
	return RecordIter{data: data, want: numRecords}
}

// Next decodes the next record into r and returns its encoding (the bytes of
// data it occupies, length prefix included, which is a valid encoding of the
// same record in any batch with the same base offset and timestamp). It
// returns false after the last record or at the first error (see Err).
func (it *RecordIter) Next(r *Record) (enc []byte, ok bool) {
	if it.err != nil {
		return nil, false
	}
	if len(it.data) == 0 {
		if it.i != it.want {
			it.err = errorf(kerr.CorruptMessage, "batch declares %d records but holds %d", it.want, it.i)
		}
		return nil, false
	}
	if it.i == it.want {
		it.err = errorf(kerr.CorruptMessage, "%d bytes after the %d records the batch declares", len(it.data), it.want)
		return nil, false
	}
	rec, n, err := decodeRecord(it.data, false)
	if err != nil {
		it.err = errorf(kerr.CorruptMessage, "record %d: %v", it.i, err)
		return nil, false
	}
	*r = rec
	enc, it.data = it.data[:n:n], it.data[n:]
	it.i++
	return enc, true
}

// Index returns the number of records Next has returned so far.
func (it *RecordIter) Index() int { return int(it.i) }

// Err returns the CORRUPT_MESSAGE *Error that stopped the iteration, if any:
// a record that does not decode, more or fewer records than declared, or
// trailing bytes.
func (it *RecordIter) Err() error { return it.err }
