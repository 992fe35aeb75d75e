package broker

// OffsetDelete, version 0: removes committed offsets of a group for topics none of its
// live members is subscribed to (GROUP_SUBSCRIBED_TO_TOPIC otherwise), with tombstones
// in __consumer_offsets.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.OffsetDelete, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return wire.Reply{Resp: resp}
	}
	var tps []group.TopicPartition
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tps = append(tps, group.TopicPartition{Topic: t.Topic, Partition: p.Partition})
		}
	}
	subscribed := func(md []byte, topic string) bool {
		var m kmsg.ConsumerMemberMetadata
		if m.ReadFrom(md) != nil {
			return false
		}
		return slices.Contains(m.Topics, topic)
	}
	res, err := b.groups.DeleteOffsets(req.Group, tps, subscribed)
	if err != nil {
		resp.ErrorCode = errCode(err)
		return wire.Reply{Resp: resp}
	}
	var gone []group.TopicPartition
	for _, tp := range tps {
		if res[tp] == nil {
			gone = append(gone, tp)
		}
	}
	name := req.Group
	topics := req.Topics
	return wire.Reply{Later: func() wire.Reply {
		if err := b.tombstones(c.Context(), name, gone); err != nil {
			resp.ErrorCode = errCode(err)
			return wire.Reply{Resp: resp}
		}
		for _, t := range topics {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = errCode(res[group.TopicPartition{Topic: t.Topic, Partition: p.Partition}])
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return wire.Reply{Resp: resp}
	}}
}
