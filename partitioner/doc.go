// Package partitioner holds streamd's partitioning strategies behind one small
// interface: the built-ins below and, later, the adapter that runs an uploaded
// Wasm partitioner ("wasm:NAME", resolved outside this package). The Kafka
// listener does not pick partitions itself: clients do, as in Apache Kafka;
// these strategies serve streamd's own producers and tools.
//
// A Partitioner is called with a whole batch (recs and out of equal length) so
// that a Wasm adapter can cross the host boundary once per batch. A nil Key
// means "no key" (Java's null); a non-nil empty Key is a key.
//
//	name               keyed record                       keyless record
//	murmur2            toPositive(murmur2(key)) % n        one random partition per call
//	sticky             toPositive(murmur2(key)) % n        one partition per call, a different
//	                                                       one on the topic's next such call
//	round-robin        keys ignored: per-topic counter % n, one atomic reservation per call
//	consistent-random  crc32(key) % n (unsigned)           random per record; empty keys too
//
// murmur2 is the Java client's Utils.murmur2 (MurmurHash2, seed 0x9747b28c,
// little-endian 4-byte words, 1-3 byte tail folded in before the final mix) and
// toPositive clears the sign bit, so keyed placements match the Java client,
// franz-go and librdkafka's murmur2 partitioner. crc32 is the IEEE CRC-32, as
// librdkafka's rd_crc32, so consistent-random matches librdkafka's
// consistent_random.
//
// The murmur2 keyless choice differs from Java's only in where the state lives:
// Java keeps one sticky partition until its batch is full; here a call is a
// batch, so a fresh random partition per call is the same distribution with no
// state. Sticky keeps per-topic state to also guarantee a switch between calls
// (KIP-480 picks a new partition different from the previous one).
//
// # Golden file
//
// testdata/murmur2.golden pins murmur2 placements (regenerate with
// `go test ./partitioner -run TestMurmur2Golden -update`). Lines starting with
// '#' are comments; every other line is
//
//	key-hex murmur2 p1 p3 p7 p64 p1000
//
// where key-hex is the key in hex ("-" for the empty key), murmur2 is the signed
// 32-bit hash and pN the keyed placement among N partitions.
package partitioner
