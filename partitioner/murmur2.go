package partitioner

import "math/rand/v2"

// Murmur2Hash is the Java client's Utils.murmur2: MurmurHash2 (32-bit) with
// seed 0x9747b28c, reading 4-byte little-endian words and folding the 1-3 byte
// tail in, returned as Java's signed int.
func Murmur2Hash(b []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
	)
	h := seed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> 24
		k *= m
		h = h*m ^ k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// murmur2Partition is the Java client's keyed placement:
// toPositive(murmur2(key)) % n, where toPositive clears the sign bit.
func murmur2Partition(key []byte, n int32) int32 {
	return (Murmur2Hash(key) & 0x7fffffff) % n
}

type murmur2 struct{}

// Murmur2 returns the Java client's default strategy. Keyed records (non-nil
// Key, including an empty one, as Java hashes an empty array) go to
// toPositive(murmur2(key)) % n. Keyless records (nil Key) all go to one
// partition chosen uniformly at random for the call: a call carries one batch,
// so this is Kafka's sticky behaviour for null keys (KIP-480) without state
// kept between calls. Use Sticky to also guarantee that consecutive calls
// switch partitions.
func Murmur2() Partitioner { return murmur2{} }

func (murmur2) Name() string { return NameMurmur2 }

// Deterministic: keyed records are placed by their key.
func (murmur2) Deterministic(r Record) bool { return r.Key != nil }

func (murmur2) Partition(_ string, n int32, recs []Record, out []int32) error {
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
			keyless = rand.Int32N(n)
		}
		out[i] = keyless
	}
	return nil
}
