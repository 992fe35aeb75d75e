//go:build !wasip1

package partitioner

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Kgo adapts a strategy to franz-go's kgo.Partitioner, so a Go producer places records
// exactly as the broker does for the topic (streamd produce without --partition uses it
// with the topic's partitioner; a Wasm partitioner runs inside the producer from the
// module downloaded from the broker's admin API). kgo partitions one record at a time, so
// each record is one call; every record requires consistency (it waits for its partition
// rather than move to another). A failed call makes the record fail with kgo's "invalid
// record partitioning choice" error; Err returns the partitioner's own error.
type Kgo struct {
	P Partitioner

	mu  sync.Mutex
	err error
}

// NewKgo returns the kgo.Partitioner for p.
func NewKgo(p Partitioner) *Kgo { return &Kgo{P: p} }

// Err returns the first error a Partition call returned, or nil.
func (k *Kgo) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// ForTopic implements kgo.Partitioner.
func (k *Kgo) ForTopic(topic string) kgo.TopicPartitioner { return &kgoTopic{k: k, topic: topic} }

type kgoTopic struct {
	k     *Kgo
	topic string
	recs  [1]Record
	out   [1]int32
	hdrs  []Header
}

func (*kgoTopic) RequiresConsistency(*kgo.Record) bool { return true }

// Partition implements kgo.TopicPartitioner (kgo calls it for one topic at a time).
func (t *kgoTopic) Partition(r *kgo.Record, n int) int {
	t.hdrs = t.hdrs[:0]
	for _, h := range r.Headers {
		t.hdrs = append(t.hdrs, Header{Key: h.Key, Value: h.Value})
	}
	var ts int64
	if !r.Timestamp.IsZero() {
		ts = r.Timestamp.UnixMilli()
	}
	t.recs[0] = Record{Key: r.Key, Value: r.Value, Headers: t.hdrs, Timestamp: ts}
	if err := t.k.P.Partition(t.topic, int32(n), t.recs[:], t.out[:]); err != nil {
		t.k.mu.Lock()
		if t.k.err == nil {
			t.k.err = err
		}
		t.k.mu.Unlock()
		return -1
	}
	return int(t.out[0])
}
