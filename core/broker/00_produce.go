package broker

// Produce, versions 3-13 (record batch v2 only; topics by id from v13). Each partition's record set must be
// exactly one v2 batch; it is validated (core/batch), checked against the topic's
// partitioner when partitioner.enforce is set (enforce.go), given its offsets and leader
// epoch, and appended. acks=1 and acks=all are answered once the batch is durable
// (fsynced, by group commit) unless log.flush.before.ack is false; acks=0 gets no
// response.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.Produce, 3, 13, handleProduce) }

type producedPart struct {
	rp   *kmsg.ProduceResponseTopicPartition
	p    *partition
	last int64
}

func handleProduce(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if req.TransactionID != nil {
		// Transactions are not served yet (no transaction coordinator).
		return wire.Reply{Resp: failProduce(req, kerr.TransactionalIDAuthorizationFailed.Code)}
	}
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return wire.Reply{Resp: failProduce(req, kerr.InvalidRequiredAcks.Code)}
	}
	now := time.Now()
	var waits []producedPart
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		byID := req.Version >= 13
		t := b.resolveTopic(byID, rt.Topic, rt.TopicID)
		var topicErr error
		if t == nil && byID {
			topicErr = kafkaErr(kerr.UnknownTopicID, "no topic with id %s", topicIDString(rt.TopicID))
		} else if t == nil {
			if topicErr = validTopicName(rt.Topic); topicErr == nil {
				t, topicErr = b.autoCreate(c.Context(), rt.Topic)
			}
		}
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			if topicErr != nil {
				setProduceErr(req.Version, sp, topicErr)
				continue
			}
			p, last, err := b.appendRecords(t, rp.Partition, rp.Records, req.Acks, now, t.settings.PartitionerEnforce)
			if err != nil {
				setProduceErr(req.Version, sp, err)
				b.metrics.produceErrors.Inc()
				continue
			}
			sp.BaseOffset = last.base
			if t.settings.TimestampType == "LogAppendTime" {
				sp.LogAppendTime = now.UnixMilli()
			}
			sp.LogStartOffset = p.log.StartOffset()
			b.metrics.bytesIn.Add(float64(len(rp.Records)))
			if req.Acks != 0 {
				waits = append(waits, producedPart{rp: sp, p: p, last: last.last})
			}
		}
	}
	if req.Acks == 0 {
		// No response to carry an error: like Kafka, close the connection so the
		// client notices and refreshes its metadata.
		for _, st := range resp.Topics {
			for _, sp := range st.Partitions {
				if sp.ErrorCode != 0 {
					return wire.Reply{CloseAfter: fmt.Sprintf("acks=0 produce to %s/%d failed: %v", st.Topic, sp.Partition, kerr.ErrorForCode(sp.ErrorCode))}
				}
			}
		}
		return wire.Reply{}
	}
	if len(waits) == 0 || !b.cfg.LogFlushBeforeAck {
		return wire.Reply{Resp: resp}
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	version := req.Version // the closure must not keep req: its buffer is recycled
	return wire.Reply{Later: func() wire.Reply {
		ctx, cancel := context.WithTimeout(c.Context(), timeout)
		defer cancel()
		for _, w := range waits {
			if err := w.p.log.WaitDurable(ctx, w.last); err != nil {
				if ctx.Err() != nil && c.Context().Err() == nil {
					err = kafkaErr(kerr.RequestTimedOut, "batch not durable within %v", timeout)
				}
				setProduceErr(version, w.rp, err)
				w.rp.BaseOffset = -1
			}
		}
		return wire.Reply{Resp: resp}
	}}
}

// failProduce answers every partition of req with code.
func failProduce(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.ErrorCode, sp.BaseOffset = rp.Partition, code, -1
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

type appendResult struct{ base, last int64 }

// appendRecords validates one partition's record set and appends it; with enforce, its
// records must belong to part by the topic's partitioner (partitioner.enforce).
func (b *Broker) appendRecords(t *topic, part int32, records []byte, acks int16, now time.Time, enforce bool) (*partition, appendResult, error) {
	if part < 0 || int(part) >= len(t.parts) {
		return nil, appendResult{}, kafkaErr(kerr.UnknownTopicOrPartition, "topic %q has %d partitions, no partition %d", t.meta.Name, len(t.parts), part)
	}
	p := t.parts[part]
	s := t.settings
	if acks == -1 && s.MinInsyncReplicas > 1 {
		return p, appendResult{}, kafkaErr(kerr.NotEnoughReplicas, "min.insync.replicas is %d but the in-sync replica set has 1 member", s.MinInsyncReplicas)
	}
	batches, err := batch.Split(records)
	if err != nil {
		return p, appendResult{}, batchErr(err)
	}
	if len(batches) != 1 {
		return p, appendResult{}, kafkaErr(kerr.InvalidRecord, "produce v3+ must carry exactly one record batch per partition, got %d", len(batches))
	}
	bb := batches[0]
	h, err := batch.Validate(bb, batch.ValidateOptions{
		MaxBatchBytes:  s.MaxMessageBytes,
		RequireKeys:    s.Compact,
		CheckRecords:   true,
		TopicPartition: t.meta.Name + "-" + strconv.Itoa(int(part)),
	})
	if err != nil {
		return p, appendResult{}, batchErr(err)
	}
	if enforce {
		if err := b.checkPlacement(t, part, bb); err != nil {
			return p, appendResult{}, err
		}
	}
	if s.TimestampType == "LogAppendTime" {
		batch.SetLogAppendTime(bb, now.UnixMilli())
	} else if err := checkTimestamps(h, s.TimestampBeforeMaxMs, s.TimestampAfterMaxMs, now); err != nil {
		return p, appendResult{}, err
	}
	if h.ProducerID >= 0 {
		return b.appendIdempotent(t, p, bb, h)
	}
	res, err := p.log.Append(bb, p.epoch)
	if err != nil {
		b.log.Error("append failed", "topic", t.meta.Name, "partition", part, "err", err)
		return p, appendResult{}, kafkaErr(kerr.KafkaStorageError, "append failed: %v", err)
	}
	return p, appendResult{base: res.BaseOffset, last: res.LastOffset}, nil
}

// appendIdempotent appends a batch that carries a producer id, after the sequence
// checks; a retried batch gets its original offsets and is not written again.
func (b *Broker) appendIdempotent(t *topic, p *partition, bb []byte, h batch.Header) (*partition, appendResult, error) {
	if h.Transactional() {
		return p, appendResult{}, kafkaErr(kerr.InvalidTxnState, "transactional batches are not served yet")
	}
	p.prod.mu.Lock()
	defer p.prod.mu.Unlock()
	dup, err := p.prod.check(h)
	if err != nil {
		return p, appendResult{}, err
	}
	if dup.duplicate {
		return p, appendResult{base: dup.base, last: dup.last}, nil
	}
	res, err := p.log.Append(bb, p.epoch)
	if err != nil {
		b.log.Error("append failed", "topic", t.meta.Name, "partition", p.index, "err", err)
		return p, appendResult{}, kafkaErr(kerr.KafkaStorageError, "append failed: %v", err)
	}
	p.prod.record(h, res.BaseOffset, res.LastOffset)
	return p, appendResult{base: res.BaseOffset, last: res.LastOffset}, nil
}

// checkTimestamps applies message.timestamp.before/after.max.ms to the batch's first and
// largest timestamps.
func checkTimestamps(h batch.Header, beforeMax, afterMax int64, now time.Time) error {
	nowMs := now.UnixMilli()
	if beforeMax >= 0 && beforeMax < math.MaxInt64 && h.BaseTimestamp >= 0 && nowMs-h.BaseTimestamp > beforeMax {
		return kafkaErr(kerr.InvalidTimestamp, "timestamp %d is more than message.timestamp.before.max.ms=%d before the broker time %d", h.BaseTimestamp, beforeMax, nowMs)
	}
	if afterMax >= 0 && afterMax < math.MaxInt64 && h.MaxTimestamp-nowMs > afterMax {
		return kafkaErr(kerr.InvalidTimestamp, "timestamp %d is more than message.timestamp.after.max.ms=%d after the broker time %d", h.MaxTimestamp, afterMax, nowMs)
	}
	return nil
}

// batchErr converts a core/batch validation error.
func batchErr(err error) error {
	if be, ok := err.(*batch.Error); ok {
		return &kafkaError{code: be.Code, msg: be.Msg, records: be.Records}
	}
	return kafkaErr(kerr.CorruptMessage, "%v", err)
}

func setProduceErr(version int16, sp *kmsg.ProduceResponseTopicPartition, err error) {
	code, msg := codeOf(err)
	sp.ErrorCode = code
	sp.BaseOffset = -1
	if version >= 8 && msg != "" {
		sp.ErrorMessage = &msg
	}
	if ke, ok := errors.AsType[*kafkaError](err); ok && version >= 8 {
		for _, r := range ke.records {
			er := kmsg.NewProduceResponseTopicPartitionErrorRecord()
			er.RelativeOffset, er.ErrorMessage = r.Index, &r.Message
			sp.ErrorRecords = append(sp.ErrorRecords, er)
		}
	}
}
