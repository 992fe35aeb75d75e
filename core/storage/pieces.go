package storage

import (
	"io"

	"github.com/streamd/streamd/core/batch"
)

// Segment bytes held in memory in pieces: the direct tail's chunks, the
// read-ahead's chunks, a read's view of either. Each holder has an at
// function returning its bytes from a file position to the end of the piece
// holding it; these helpers do the rest for all of them.

// appendPieces appends to dst the bytes of [from, to) as slices of the pieces
// (at must hold them all).
func appendPieces(dst [][]byte, at func(int64) []byte, from, to int64) [][]byte {
	for from < to {
		p := at(from)
		p = p[:min(int64(len(p)), to-from)]
		dst = append(dst, p)
		from += int64(len(p))
	}
	return dst
}

// copyPieces copies the len(dst) bytes at file position p into dst (at must
// hold them all).
func copyPieces(dst []byte, at func(int64) []byte, p int64) {
	for len(dst) > 0 {
		n := copy(dst, at(p))
		dst, p = dst[n:], p+int64(n)
	}
}

// walkPieces returns the end of the whole batches from pos (the first one
// first bytes long, held) that end by avail, reading their headers from the
// pieces (at must hold [pos, avail)).
func walkPieces(at func(int64) []byte, pos, first, avail int64) int64 {
	return wholeBatchesFrom(pos+first, avail, func(p int64, buf *[batch.HeaderLen]byte) (batch.Header, error) {
		if p+batch.HeaderLen > avail {
			return batch.Header{}, io.ErrUnexpectedEOF
		}
		copyPieces(buf[:], at, p)
		return batch.ParseHeader(buf[:])
	})
}
