package broker

// ListOffsets, versions 1-8. Timestamps: -2 earliest (log start offset), -1 latest (high
// watermark; for read_committed the last stable offset, equal without transactions),
// -3 max timestamp (v7+: the record with the largest timestamp), >= 0 the first record
// whose timestamp is at or after it (offset -1 if none).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.ListOffsets, 1, 8, handleListOffsets) }

func handleListOffsets(b *Broker, _ *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			b.listOffset(req.Version, rt.Topic, rp, &sp)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Reply{Resp: resp}
}

func (b *Broker) listOffset(version int16, topicName string, rp kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) {
	sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
	p, err := b.partitionOf(topicName, rp.Partition)
	if err != nil {
		sp.ErrorCode, _ = codeOf(err)
		return
	}
	if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.epoch); code != 0 {
		sp.ErrorCode = code
		return
	}
	sp.LeaderEpoch = p.epoch
	switch ts := rp.Timestamp; {
	case ts == -2:
		sp.Offset = p.log.StartOffset()
	case ts == -1:
		sp.Offset = p.log.HighWatermark()
	case ts == -3 && version >= 7:
		off, mts := p.log.MaxTimestamp()
		sp.Offset, sp.Timestamp = off, mts
	case ts < 0:
		sp.ErrorCode = kerr.UnsupportedVersion.Code
	default:
		off, fts, found, err := p.log.OffsetForTimestamp(ts)
		if err != nil {
			sp.ErrorCode, _ = codeOf(err)
			return
		}
		if found {
			sp.Offset, sp.Timestamp = off, fts
		}
	}
}
