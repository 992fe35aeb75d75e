// Package partitioner holds streamd's partitioning strategies behind one small
// interface: the built-ins (murmur2 as in the Java client, round-robin, sticky,
// consistent-random) and the adapter that runs an uploaded Wasm partitioner.
//
// The package is introduced with the Wasm plugin work (see docs/architecture.md); the
// Kafka listener does not pick partitions itself: clients do, as in Apache Kafka.
package partitioner
