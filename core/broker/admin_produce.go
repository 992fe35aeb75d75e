package broker

// HTTP produce on the admin listener: the broker picks each record's partition with the
// topic's partitioner (topic config partitioner, a built-in or wasm:NAME).
//
//	POST /v1/topics/{name}/records
//	{"records": [{"key": "eu:alice", "value": "hello", "headers": [{"key": "h", "value": "v"}]}]}
//
// key, value and header values are UTF-8 strings or null (omitted = null); binary data
// needs the Kafka API. The records are split by partition into one batch per partition
// (timestamp: now, no compression), each validated like a Kafka produce (size against
// max.message.bytes, keys on compacted topics) before anything is written, appended
// through the same path as a Kafka produce with acks=all and answered once durable:
//
//	200 {"offsets": [{"partition": 3, "offset": 17}, ...]}      one entry per record, in order
//
// Errors answer {"error": "..."}: 400 malformed JSON, no records, a record the topic
// refuses (e.g. no key on a compacted topic), an internal topic; 404 unknown topic; 413 a
// body over socket.request.max.bytes or a partition's batch over max.message.bytes; 500
// the partitioner (a plugin) failed or the storage did — then entries of records not
// written carry "error" instead of an offset; 503 shutting down.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/partitioner"
)

type httpHeader struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

type httpRecord struct {
	Key     *string      `json:"key"`
	Value   *string      `json:"value"`
	Headers []httpHeader `json:"headers"`
}

type httpOffset struct {
	Partition int32  `json:"partition"`
	Offset    *int64 `json:"offset,omitempty"`
	Error     string `json:"error,omitempty"`
}

func strBytes(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func (b *Broker) handleProduceRecords(w http.ResponseWriter, r *http.Request) {
	if !b.adminOpen(w) {
		return
	}
	name := r.PathValue("name")
	t := b.topicOr404(w, name)
	if t == nil {
		return
	}
	if t.meta.Internal {
		adminError(w, http.StatusBadRequest, "topic "+name+" is internal: producing to it is not allowed")
		return
	}
	limit := int64(b.cfg.SocketRequestMaxBytes)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		adminError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes (socket.request.max.bytes)", limit))
		return
	}
	if err != nil {
		adminError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	var req struct {
		Records []httpRecord `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		adminError(w, http.StatusBadRequest, "bad JSON: "+err.Error()+` (want {"records": [{"key": "k", "value": "v", "headers": [{"key": "h", "value": "v"}]}]})`)
		return
	}
	if dec.More() {
		adminError(w, http.StatusBadRequest, "bad JSON: data after the object")
		return
	}
	if len(req.Records) == 0 {
		adminError(w, http.StatusBadRequest, `no records: want {"records": [{"key": "k", "value": "v"}, ...]}`)
		return
	}
	now := time.Now()
	recs := make([]partitioner.Record, len(req.Records))
	for i, hr := range req.Records {
		pr := partitioner.Record{Key: strBytes(hr.Key), Value: strBytes(hr.Value), Timestamp: now.UnixMilli()}
		for j, h := range hr.Headers {
			if h.Key == "" {
				adminError(w, http.StatusBadRequest, fmt.Sprintf("record %d: header %d has no key", i, j))
				return
			}
			pr.Headers = append(pr.Headers, partitioner.Header{Key: h.Key, Value: strBytes(h.Value)})
		}
		recs[i] = pr
	}
	parts := make([]int32, len(recs))
	if err := t.part.Partition(name, int32(len(t.parts)), recs, parts); err != nil {
		b.pluginFailed(t.settings.Partitioner, "partition")
		adminError(w, http.StatusInternalServerError, fmt.Sprintf("partitioner %s failed: %v", t.settings.Partitioner, err))
		return
	}
	out, code, msg := b.produceHTTP(r.Context(), t, recs, parts, now)
	if code != http.StatusOK && out == nil {
		adminError(w, code, msg)
		return
	}
	if code != http.StatusOK {
		adminJSON(w, code, map[string]any{"error": msg, "offsets": out})
		return
	}
	adminJSON(w, http.StatusOK, map[string]any{"offsets": out})
}

// produceHTTP appends recs (placed in parts) as one batch per partition and waits until
// they are durable. It returns the per-record outcome, or nil and an error status when
// nothing was written.
func (b *Broker) produceHTTP(ctx context.Context, t *topic, recs []partitioner.Record, parts []int32, now time.Time) ([]httpOffset, int, string) {
	byPart := map[int32][]int{} // partition → record indexes
	var order []int32
	for i, p := range parts {
		if _, ok := byPart[p]; !ok {
			order = append(order, p)
		}
		byPart[p] = append(byPart[p], i)
	}
	batches := make(map[int32][]byte, len(order))
	for _, p := range order {
		brs := make([]batch.Record, len(byPart[p]))
		for k, i := range byPart[p] {
			r := recs[i]
			br := batch.Record{Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				br.Headers = append(br.Headers, batch.RecordHeader{Key: h.Key, Value: h.Value})
			}
			brs[k] = br
		}
		bb := batch.Build(batch.BuildOptions{ProducerID: -1}, brs, now.UnixMilli())
		_, err := batch.Validate(bb, batch.ValidateOptions{MaxBatchBytes: t.settings.MaxMessageBytes, RequireKeys: t.settings.Compact, CheckRecords: true})
		if err != nil {
			code, msg := codeOf(batchErr(err))
			status := http.StatusBadRequest
			if code == kerr.MessageTooLarge.Code || code == kerr.RecordListTooLarge.Code {
				status = http.StatusRequestEntityTooLarge
			}
			return nil, status, fmt.Sprintf("partition %d: %s: %s", p, kerr.ErrorForCode(code).Error(), msg)
		}
		batches[p] = bb
	}
	out := make([]httpOffset, len(recs))
	for i, p := range parts {
		out[i].Partition = p
	}
	type written struct {
		p    *partition
		last int64
		idx  []int
	}
	var waits []written
	var failure string
	fail := func(idx []int, err error) {
		code, msg := codeOf(err)
		s := kerr.ErrorForCode(code).Error()
		if msg != "" {
			s += ": " + msg
		}
		for _, i := range idx {
			out[i].Error = s
		}
		if failure == "" {
			failure = s
		}
	}
	for _, p := range order {
		pp, res, err := b.appendRecords(t, p, batches[p], -1, now, false)
		if err != nil {
			b.metrics.produceErrors.Inc()
			fail(byPart[p], err)
			continue
		}
		b.metrics.bytesIn.Add(float64(len(batches[p])))
		for k, i := range byPart[p] {
			off := res.base + int64(k)
			out[i].Offset = &off
		}
		waits = append(waits, written{pp, res.last, byPart[p]})
	}
	if b.cfg.LogFlushBeforeAck {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for _, wr := range waits {
			if err := wr.p.log.WaitDurable(wctx, wr.last); err != nil {
				for _, i := range wr.idx {
					out[i].Offset = nil
				}
				fail(wr.idx, kafkaErr(kerr.RequestTimedOut, "not durable within 30s: %v", err))
			}
		}
	}
	if failure != "" {
		return out, http.StatusInternalServerError, failure
	}
	return out, http.StatusOK, ""
}
