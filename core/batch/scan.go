package batch

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// legacyMinLength is the smallest length field of any message format: a
// magic 0 message (crc, magic, attributes, key and value lengths). Part of
// the format.
const legacyMinLength = 14

// Split cuts a produce request's record set, possibly several concatenated
// batches, into one slice per batch (sharing records' memory). It checks
// framing only: each length field must be plausible (at least 49 for magic 2)
// and the last batch whole; otherwise it returns a CORRUPT_MESSAGE *Error.
// An empty record set gives no batches. Validate each batch afterwards.
func Split(records []byte) ([][]byte, error) {
	var out [][]byte
	for pos := 0; pos < len(records); {
		rest := records[pos:]
		if len(rest) < LogOverhead {
			return nil, errorf(kerr.CorruptMessage, "%d trailing bytes at position %d are not a whole batch", len(rest), pos)
		}
		length := int32(binary.BigEndian.Uint32(rest[offLength:]))
		least := int32(legacyMinLength)
		if len(rest) > offMagic && rest[offMagic] == MagicV2 {
			least = minLength
		}
		if length < least {
			return nil, errorf(kerr.CorruptMessage, "batch at position %d has length %d, below the minimum %d", pos, length, least)
		}
		n := int64(length) + LogOverhead
		if n > int64(len(rest)) {
			return nil, errorf(kerr.CorruptMessage, "batch at position %d needs %d bytes but %d remain", pos, n, len(rest))
		}
		out = append(out, rest[:n:n])
		pos += int(n)
	}
	return out, nil
}

// Scan errors, wrapped with the position and what was found.
var (
	// ErrTorn is a batch cut short by the end of the buffer: the usual
	// tail of a segment after a crash mid-write.
	ErrTorn = errors.New("batch: torn batch")
	// ErrCorrupt is a batch that is whole but wrong: bad magic, impossible
	// length or CRC mismatch.
	ErrCorrupt = errors.New("batch: corrupt batch")
)

// Scan walks the batches stored back to back in buf (a log segment's
// contents) from position 0, calling fn with the position and header of each
// whole magic-2 batch whose CRC verifies. It stops at the first batch that is
// torn (ErrTorn: it needs more bytes than remain) or corrupt (ErrCorrupt) and
// returns the length of the valid prefix before it, with the error wrapped
// with the position; crash recovery truncates the segment to validLen. If fn
// returns false Scan stops after that batch, which counts as valid, and
// returns a nil error. fn may be nil. A fully valid buf gives len(buf), nil.
func Scan(buf []byte, fn func(pos int, h Header) bool) (validLen int, err error) {
	pos := 0
	for pos < len(buf) {
		rest := buf[pos:]
		if len(rest) < HeaderLen {
			return pos, fmt.Errorf("%w at position %d: %d bytes, shorter than a batch header", ErrTorn, pos, len(rest))
		}
		h, _ := ParseHeader(rest)
		if h.Magic != MagicV2 {
			return pos, fmt.Errorf("%w at position %d: magic %d", ErrCorrupt, pos, h.Magic)
		}
		if h.Length < minLength {
			return pos, fmt.Errorf("%w at position %d: length %d below the minimum %d", ErrCorrupt, pos, h.Length, minLength)
		}
		if need := int64(h.Length) + LogOverhead; need > int64(len(rest)) {
			return pos, fmt.Errorf("%w at position %d: needs %d bytes but %d remain", ErrTorn, pos, need, len(rest))
		}
		n := h.TotalSize()
		if crc := CRC(rest[:n]); crc != h.CRC {
			return pos, fmt.Errorf("%w at position %d: crc mismatch: header 0x%08x computed 0x%08x", ErrCorrupt, pos, h.CRC, crc)
		}
		if fn != nil && !fn(pos, h) {
			return pos + n, nil
		}
		pos += n
	}
	return pos, nil
}
