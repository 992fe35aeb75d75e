package broker

// partitioner.enforce: a Kafka produce to a topic with partitioner.enforce=true has its
// records decoded (decompressing if needed; only for such topics) and placed by the
// topic's partitioner; a record that the partitioner places by its content
// (partitioner.Deterministic: keyed records for murmur2 and sticky, non-empty keys for
// consistent-random, every record for wasm:NAME) and that belongs to another partition
// fails the whole partition's batch with INVALID_RECORD, naming the record and its
// partition. A partitioner plugin that fails fails the batch with UNKNOWN_SERVER_ERROR
// and the plugin's error.

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/partitioner"
)

// checkPlacement checks that every content-placed record of the batch bb belongs to part.
func (b *Broker) checkPlacement(t *topic, part int32, bb []byte) error {
	det, ok := t.part.(partitioner.Deterministic)
	if !ok {
		return nil
	}
	h, recs, err := batch.Records(bb)
	if err != nil {
		return batchErr(err)
	}
	sel := make([]partitioner.Record, 0, len(recs))
	idx := make([]int, 0, len(recs))
	for i, r := range recs {
		pr := partitioner.Record{Key: r.Key, Value: r.Value, Timestamp: h.RecordTimestamp(r)}
		if len(r.Headers) > 0 {
			pr.Headers = make([]partitioner.Header, len(r.Headers))
			for j, rh := range r.Headers {
				pr.Headers[j] = partitioner.Header{Key: rh.Key, Value: rh.Value}
			}
		}
		if det.Deterministic(pr) {
			sel = append(sel, pr)
			idx = append(idx, i)
		}
	}
	if len(sel) == 0 {
		return nil
	}
	out := make([]int32, len(sel))
	if err := t.part.Partition(t.meta.Name, int32(len(t.parts)), sel, out); err != nil {
		b.pluginFailed(t.settings.Partitioner, "enforce")
		return kafkaErr(kerr.UnknownServerError, "partitioner.enforce: partitioner %s failed: %v", t.settings.Partitioner, err)
	}
	for k, want := range out {
		if want != part {
			return kafkaErr(kerr.InvalidRecord, "partitioner.enforce: record %d of the batch (key %s) belongs to partition %d by partitioner %s, not %d",
				idx[k], quoteKey(sel[k].Key), want, t.settings.Partitioner, part)
		}
	}
	return nil
}

// quoteKey renders a key for an error message: quoted, at most 64 bytes.
func quoteKey(k []byte) string {
	if k == nil {
		return "null"
	}
	if len(k) > 64 {
		return strconv.Quote(string(k[:64])) + "…"
	}
	return strconv.Quote(string(k))
}
