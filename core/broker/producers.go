package broker

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamd/streamd/core/batch"
)

// Idempotent producers. Each partition keeps, per producer id, its epoch and the
// sequence ranges and offsets of its last five batches (Kafka's rule): a retried batch
// is answered with its original offset and not written again, a gap gets
// OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch INVALID_PRODUCER_EPOCH. The state lives
// in memory and is rebuilt at start from the batch headers of the last producerTailWindow
// bytes of each partition's active segment, so a batch retried across a broker restart
// is still recognised; a producer whose batches are older than that is accepted
// whatever its sequence.

const dedupWindow = 5

// producerTailWindow is how much of each partition's log tail is read at start to
// rebuild producer state.
const producerTailWindow = 16 << 20

// rebuild restores the state from a log tail (called before the partition is shared).
func (ps *producerState) rebuild(walk func(fn func(batch.Header)) error) error {
	return walk(func(h batch.Header) {
		if h.ProducerID >= 0 && !h.Control() {
			ps.record(h, h.BaseOffset, h.LastOffset())
		}
	})
}

type seqBatch struct {
	first, last int32 // sequence range
	base, end   int64 // offsets
}

type producerEntry struct {
	epoch   int16
	lastSeq int32
	recent  [dedupWindow]seqBatch
	n       int // valid entries in recent (ring, newest at (head-1))
	head    int
}

// producerState is one partition's idempotence state; mu also serialises the check and
// the append of batches that carry a producer id.
type producerState struct {
	mu  sync.Mutex
	ids map[int64]*producerEntry
}

// dupResult says what to do with a batch.
type dupResult struct {
	duplicate  bool
	base, last int64 // offsets of the original batch, when duplicate
}

// check decides, under ps.mu, whether h may be appended.
func (ps *producerState) check(h batch.Header) (dupResult, error) {
	e := ps.ids[h.ProducerID]
	if e == nil {
		return dupResult{}, nil
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return dupResult{}, kafkaErr(kerr.InvalidProducerEpoch, "producer %d epoch %d is older than the current epoch %d", h.ProducerID, h.ProducerEpoch, e.epoch)
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return dupResult{}, kafkaErr(kerr.OutOfOrderSequenceNumber, "producer %d: first batch of epoch %d has sequence %d, want 0", h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return dupResult{}, nil
	}
	last := seqAdd(h.BaseSequence, h.LastOffsetDelta)
	for i := range e.n {
		b := e.recent[(e.head-1-i+dedupWindow)%dedupWindow]
		if b.first == h.BaseSequence && b.last == last {
			return dupResult{duplicate: true, base: b.base, last: b.end}, nil
		}
	}
	if want := seqAdd(e.lastSeq, 1); h.BaseSequence != want {
		return dupResult{}, kafkaErr(kerr.OutOfOrderSequenceNumber, "producer %d epoch %d: sequence %d, expected %d", h.ProducerID, h.ProducerEpoch, h.BaseSequence, want)
	}
	return dupResult{}, nil
}

// record notes an appended batch, under ps.mu.
func (ps *producerState) record(h batch.Header, base, last int64) {
	if ps.ids == nil {
		ps.ids = make(map[int64]*producerEntry)
	}
	e := ps.ids[h.ProducerID]
	if e == nil || h.ProducerEpoch != e.epoch {
		e = &producerEntry{epoch: h.ProducerEpoch}
		ps.ids[h.ProducerID] = e
	}
	e.lastSeq = seqAdd(h.BaseSequence, h.LastOffsetDelta)
	e.recent[e.head] = seqBatch{first: h.BaseSequence, last: e.lastSeq, base: base, end: last}
	e.head = (e.head + 1) % dedupWindow
	e.n = min(e.n+1, dedupWindow)
}

// seqAdd adds to a sequence number, wrapping at MaxInt32 like Kafka.
func seqAdd(s, d int32) int32 {
	if int64(s)+int64(d) > math.MaxInt32 {
		return int32(int64(s) + int64(d) - math.MaxInt32 - 1)
	}
	return s + d
}

// producerIDs hands out producer ids from blocks reserved in <log.dirs>/producer-id-block
// (the next unreserved id), so ids are never reused across restarts.
type producerIDs struct {
	mu        sync.Mutex
	path      string
	next, end int64
}

const producerIDBlock = 1000

func (p *producerIDs) allocate() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		start := p.end
		if start == 0 {
			data, err := os.ReadFile(p.path)
			switch {
			case err == nil && len(data) == 8:
				start = int64(binary.BigEndian.Uint64(data))
			case err == nil:
				return -1, fmt.Errorf("broker: %s is corrupt (%d bytes)", p.path, len(data))
			case !os.IsNotExist(err):
				return -1, fmt.Errorf("broker: %w", err)
			}
		}
		end := start + producerIDBlock
		if err := writeFileSync(p.path, binary.BigEndian.AppendUint64(nil, uint64(end))); err != nil {
			return -1, err
		}
		p.next, p.end = start, end
	}
	id := p.next
	p.next++
	return id, nil
}

func newProducerIDs(dir string) *producerIDs {
	return &producerIDs{path: filepath.Join(dir, "producer-id-block")}
}
