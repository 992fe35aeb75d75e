package broker

// DeleteRecords, versions 0-2: advances a partition's log start offset (offset -1 means
// the high watermark) and deletes whole segments below it.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.DeleteRecords, 0, 2, handleDeleteRecords) }

func handleDeleteRecords(b *Broker, _ *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			p, err := b.partitionOf(rt.Topic, rp.Partition)
			if err == nil {
				var low int64
				low, err = p.log.DeleteRecords(rp.Offset)
				if err == nil {
					sp.LowWatermark = low
					b.log.Info("records deleted", "topic", rt.Topic, "partition", rp.Partition, "log_start_offset", low)
				}
			}
			sp.ErrorCode, _ = codeOf(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Reply{Resp: resp}
}
