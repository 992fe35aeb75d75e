package partitioner

import (
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

type roundRobin struct {
	counters sync.Map // topic -> *atomic.Uint64
}

// RoundRobin returns a strategy that ignores keys, like the Java client's
// RoundRobinPartitioner: each topic has its own counter, starting at 0, and
// record i of a call goes to (counter+i) % n. A call reserves its range with one
// atomic add, so concurrent calls never hand out the same counter value.
func RoundRobin() Partitioner { return &roundRobin{} }

func (*roundRobin) Name() string { return NameRoundRobin }

func (r *roundRobin) Partition(topic string, n int32, recs []Record, out []int32) error {
	if err := check(n, recs, out); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	c, ok := r.counters.Load(topic)
	if !ok {
		c, _ = r.counters.LoadOrStore(topic, new(atomic.Uint64))
	}
	end := c.(*atomic.Uint64).Add(uint64(len(recs)))
	p := int32((end - uint64(len(recs))) % uint64(n))
	for i := range recs {
		out[i] = p
		if p++; p == n {
			p = 0
		}
	}
	return nil
}

type sticky struct {
	mu   sync.Mutex
	last map[string]int32 // topic -> partition given to the last keyless batch
}

// Sticky returns the KIP-480 strategy. Keyed records use murmur2 exactly as
// Murmur2 does. All keyless records of one call go to one partition; the next
// call with keyless records for the same topic moves to a different partition,
// chosen uniformly among the other n-1 (when n > 1). Calls without keyless
// records leave the choice untouched.
func Sticky() Partitioner { return &sticky{last: make(map[string]int32)} }

func (*sticky) Name() string { return NameSticky }

// Deterministic: keyed records are placed by their key (murmur2).
func (*sticky) Deterministic(r Record) bool { return r.Key != nil }

func (s *sticky) Partition(topic string, n int32, recs []Record, out []int32) error {
	if err := check(n, recs, out); err != nil {
		return err
	}
	keyless := int32(-1)
	for i := range recs {
		if k := recs[i].Key; k != nil {
			out[i] = murmur2Partition(k, n)
			continue
		}
		if keyless < 0 {
			keyless = s.next(topic, n)
		}
		out[i] = keyless
	}
	return nil
}

// next picks the topic's partition for a new keyless batch, different from the
// previous one when possible.
func (s *sticky) next(topic string, n int32) int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.last[topic]
	var p int32
	switch {
	case n == 1:
		p = 0
	case !ok || prev >= n: // first batch, or the topic shrank under us
		p = rand.Int32N(n)
	default:
		if p = rand.Int32N(n - 1); p >= prev {
			p++
		}
	}
	s.last[topic] = p
	return p
}

type consistentRandom struct{}

// ConsistentRandom returns librdkafka's "consistent_random" strategy: a record
// with a non-empty key goes to crc32(key) % n, where crc32 is the IEEE CRC-32
// (librdkafka's rd_crc32) and the modulo is unsigned; a record with a nil or
// empty key goes to a random partition, chosen per record.
func ConsistentRandom() Partitioner { return consistentRandom{} }

func (consistentRandom) Name() string { return NameConsistentRandom }

// Deterministic: records with a non-empty key are placed by crc32 of the key.
func (consistentRandom) Deterministic(r Record) bool { return len(r.Key) > 0 }

func (consistentRandom) Partition(_ string, n int32, recs []Record, out []int32) error {
	if err := check(n, recs, out); err != nil {
		return err
	}
	for i := range recs {
		if k := recs[i].Key; len(k) > 0 {
			out[i] = int32(crc32.ChecksumIEEE(k) % uint32(n))
		} else {
			out[i] = rand.Int32N(n)
		}
	}
	return nil
}
