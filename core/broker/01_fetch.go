package broker

// Fetch, versions 4-16 (topics by id from v13). Long polling: when less than min_bytes is available the response
// is completed on the connection's writer goroutine once any requested partition's high
// watermark moves, max_wait_ms passes, or the connection closes. max_bytes and
// partition_max_bytes are honoured; the first batch of the first non-empty partition is
// returned whole even when larger (KIP-74). Fetch sessions are not kept: the response
// always carries session id 0, which tells clients to send full fetches. Both isolation
// levels are accepted; with no transactions the last stable offset is the high
// watermark.

import (
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/storage"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.Fetch, 4, 16, handleFetch) }

func handleFetch(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.FetchRequest)
	if req.SessionID != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return wire.Reply{Resp: resp}
	}
	// Snapshot the wake-up channels before reading so no append is missed.
	wake := b.fetchWakeups(req)
	reply, n, urgent := b.gatherFetch(req)
	if urgent || n >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || len(wake) == 0 {
		return reply
	}
	wire.ReleaseFiles(reply.Files)
	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	return wire.Reply{Later: func() wire.Reply {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		cases := make([]reflect.SelectCase, 0, len(wake)+3)
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.Context().Done())},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(b.stop)},
		)
		for {
			cases = cases[:3]
			for _, ch := range wake {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
			}
			chosen, _, _ := reflect.Select(cases)
			if chosen < 3 {
				reply, _, _ = b.gatherFetch(req)
				return reply
			}
			wake = b.fetchWakeups(req)
			reply, n, urgent = b.gatherFetch(req)
			if urgent || n >= int(req.MinBytes) {
				return reply
			}
			wire.ReleaseFiles(reply.Files)
		}
	}}
}

// fetchWakeups returns the change channels of every requested partition that exists.
func (b *Broker) fetchWakeups(req *kmsg.FetchRequest) []<-chan struct{} {
	var out []<-chan struct{}
	for _, rt := range req.Topics {
		t := b.resolveTopic(req.Version >= 13, rt.Topic, rt.TopicID)
		if t == nil {
			continue
		}
		for _, rp := range rt.Partitions {
			if rp.Partition >= 0 && int(rp.Partition) < len(t.parts) {
				out = append(out, t.parts[rp.Partition].log.Changed())
			}
		}
	}
	return out
}

// gatherFetch collects what is available now: record data is not read but listed as
// file ranges the connection writer sends with sendfile. urgent is true when some
// partition has an error the client should see at once.
func (b *Broker) gatherFetch(req *kmsg.FetchRequest) (wire.Reply, int, bool) {
	var files []wire.FileRange
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	remaining := int64(req.MaxBytes)
	if remaining <= 0 {
		remaining = int64(b.cfg.FetchMaxBytes)
	}
	total := 0
	urgent := false
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		byID := req.Version >= 13
		t := b.resolveTopic(byID, rt.Topic, rt.TopicID)
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.RecordBatches = noRecords // empty, never null: librdkafka rejects a null record set
			if t == nil && byID {
				sp.ErrorCode = kerr.UnknownTopicID.Code
				urgent = true
				continue
			}
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.parts) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				urgent = true
				continue
			}
			p := t.parts[rp.Partition]
			if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.epoch); code != 0 {
				sp.ErrorCode = code
				urgent = true
				continue
			}
			limit := min(int64(rp.PartitionMaxBytes), remaining)
			if limit <= 0 && total > 0 {
				fillOffsets(sp, p.log)
				continue
			}
			if limit <= 0 {
				limit = 1 // still return the first batch whole (KIP-74)
			}
			r, err := p.log.ReadFile(rp.FetchOffset, int32(min(limit, 1<<31-1)))
			if err != nil {
				code, _ := codeOf(err)
				sp.ErrorCode = code
				fillOffsets(sp, p.log)
				urgent = true
				continue
			}
			sp.HighWatermark = r.HighWatermark
			sp.LastStableOffset = r.LastStableOffset
			sp.LogStartOffset = r.LogStartOffset
			if r.Len == 0 {
				continue
			}
			if r.Len > limit && total > 0 {
				r.Release()
				continue // KIP-74 applies to the first non-empty partition only
			}
			fr := wire.FileRange{Marker: wire.NewMarker(), File: r.File, Off: r.Pos, Len: r.Len, Release: r.Release}
			fr.Mem = r.Mem // nil: sendfile
			sp.RecordBatches = fr.Marker[:]
			files = append(files, fr)
			total += int(r.Len)
			remaining -= r.Len
		}
	}
	b.metrics.bytesOut.Add(float64(total))
	return wire.Reply{Resp: resp, Files: files}, total, urgent
}

var noRecords = []byte{}

func fillOffsets(sp *kmsg.FetchResponseTopicPartition, l *storage.Log) {
	sp.HighWatermark = l.HighWatermark()
	sp.LastStableOffset = sp.HighWatermark
	sp.LogStartOffset = l.StartOffset()
}

// checkLeaderEpoch compares a client's current leader epoch with ours (-1 = unknown).
func checkLeaderEpoch(client, ours int32) int16 {
	switch {
	case client < 0 || client == ours:
		return 0
	case client > ours:
		return kerr.UnknownLeaderEpoch.Code
	default:
		return kerr.FencedLeaderEpoch.Code
	}
}
