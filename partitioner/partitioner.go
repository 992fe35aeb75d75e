package partitioner

import (
	"errors"
	"fmt"
)

// Header is one record header, as carried in a v2 record.
type Header struct {
	Key   string
	Value []byte
}

// Record is the part of a produced record a partitioner may look at. A nil Key
// means "no key" (Java's null key); a non-nil empty Key is a key of zero bytes.
// Timestamp (ms since the Unix epoch, 0 if unknown) is passed to Wasm partitioners;
// the built-ins ignore it.
type Record struct {
	Key, Value []byte
	Headers    []Header
	Timestamp  int64
}

// Deterministic is implemented by strategies that place some records by their content
// alone, so that a partition can be checked after the fact (topic config
// partitioner.enforce): Deterministic reports whether r is such a record. murmur2 and
// sticky place keyed records by key, consistent-random records with a non-empty key, and
// a Wasm partitioner every record (its plugin must be a pure function of the record);
// round-robin places nothing by content and does not implement it.
type Deterministic interface {
	Deterministic(r Record) bool
}

// Partitioner picks partitions for records. Implementations are safe for
// concurrent use.
type Partitioner interface {
	// Name is the name ByName resolves to this strategy.
	Name() string
	// Partition returns a partition in [0, n) for each record (out[i] for
	// recs[i]); one call carries a batch. It fails, writing nothing, when n < 1
	// or len(out) < len(recs).
	Partition(topic string, n int32, recs []Record, out []int32) error
}

// Errors returned by Partition for invalid arguments.
var (
	ErrPartitionCount = errors.New("partitioner: partition count must be at least 1")
	ErrShortOutput    = errors.New("partitioner: out is shorter than recs")
)

// Names of the built-in strategies, as accepted by ByName.
const (
	NameMurmur2          = "murmur2"
	NameRoundRobin       = "round-robin"
	NameSticky           = "sticky"
	NameConsistentRandom = "consistent-random"
)

// ByName returns a new instance of the built-in strategy called name. Each call
// returns a fresh instance with its own state (round-robin counters, sticky
// choices). Unknown names, including the "wasm:NAME" form that is resolved
// elsewhere, return false.
func ByName(name string) (Partitioner, bool) {
	switch name {
	case NameMurmur2:
		return Murmur2(), true
	case NameRoundRobin:
		return RoundRobin(), true
	case NameSticky:
		return Sticky(), true
	case NameConsistentRandom:
		return ConsistentRandom(), true
	}
	return nil, false
}

// check validates the arguments common to every Partition call.
func check(n int32, recs []Record, out []int32) error {
	if n < 1 {
		return fmt.Errorf("%w: got %d", ErrPartitionCount, n)
	}
	if len(out) < len(recs) {
		return fmt.Errorf("%w: %d < %d", ErrShortOutput, len(out), len(recs))
	}
	return nil
}
