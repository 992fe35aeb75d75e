package batch

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrShort is returned by ParseHeader for fewer than HeaderLen bytes.
var ErrShort = errors.New("batch: short buffer: fewer than 61 header bytes")

// ErrDecompressLimit is returned (wrapped) when decompressed data would exceed
// the allowed size; it guards against decompression bombs.
var ErrDecompressLimit = errors.New("batch: decompressed size exceeds limit")

// Error is a batch that a broker must refuse, with the Kafka error code the
// broker answers with (kerr.X.Code) and a message naming what was wrong.
type Error struct {
	Code int16  // Kafka error code, e.g. kerr.CorruptMessage.Code
	Msg  string // what was wrong, e.g. "lastOffsetDelta 4 but 3 records"
	// Records lists the offending records when the batch was refused for
	// them (Kafka's record errors, returned by Produce v8+).
	Records []RecordError
}

// RecordError is one record a batch was refused for.
type RecordError struct {
	Index   int32  // position of the record in its batch
	Message string // what was wrong with it
}

// Error returns "batch: KAFKA_NAME: message".
func (e *Error) Error() string {
	name := "NONE"
	if ke := kerr.TypedErrorForCode(e.Code); ke != nil {
		name = ke.Message
	}
	return "batch: " + name + ": " + e.Msg
}

// Unwrap returns the kerr error for Code, so errors.Is(err, kerr.InvalidRecord)
// holds for an INVALID_RECORD batch error.
func (e *Error) Unwrap() error { return kerr.ErrorForCode(e.Code) }

func errorf(code *kerr.Error, format string, args ...any) *Error {
	return &Error{Code: code.Code, Msg: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Kafka error code carried by err if it is (or wraps) an
// *Error, CORRUPT_MESSAGE for any other non-nil error, and 0 for nil.
func ErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return kerr.CorruptMessage.Code
}
