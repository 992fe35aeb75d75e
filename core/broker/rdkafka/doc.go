// Package rdkafka holds the compatibility tests of streamd's consumer groups with
// librdkafka, through confluent-kafka-go (cgo, bundled librdkafka 2.11): the KIP-848
// consumer protocol (group.protocol=consumer), which the kcat of Debian (librdkafka
// 2.0.2) predates. They are kept apart from core/broker so that only this test binary
// links librdkafka; without cgo they are skipped.
package rdkafka
