package broker

// OffsetFetch, versions 0-9 (v8+: several groups per request; v10 names topics by id and
// is not served). Answers come from memory; a partition without a commit gets offset -1.
// Null topics (v2+) ask for every committed partition of the group. require_stable is
// accepted (no transactions are pending ever). v9 carries a member id and epoch, checked
// for KIP-848 consumer groups (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH) as Kafka does.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.OffsetFetch, 0, 9, handleOffsetFetch) }

// fetchedTopic is one topic of an OffsetFetch answer.
type fetchedTopic struct {
	topic string
	parts []group.Fetched
}

func (b *Broker) fetchGroupOffsets(name string, all bool, topics map[string][]int32, order []string) []fetchedTopic {
	var tps []group.TopicPartition
	if !all {
		tps = []group.TopicPartition{}
		for _, t := range order {
			for _, p := range topics[t] {
				tps = append(tps, group.TopicPartition{Topic: t, Partition: p})
			}
		}
	}
	var out []fetchedTopic
	for _, f := range b.groups.FetchOffsets(name, tps) {
		if len(out) == 0 || out[len(out)-1].topic != f.Topic {
			out = append(out, fetchedTopic{topic: f.Topic})
		}
		out[len(out)-1].parts = append(out[len(out)-1].parts, f)
	}
	return out
}

func handleOffsetFetch(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			if rg.Group == "" {
				g.ErrorCode = kerr.InvalidGroupID.Code
				resp.Groups = append(resp.Groups, g)
				continue
			}
			if req.Version >= 9 {
				if err := b.groups.ValidateFetch(rg.Group, rg.MemberID, rg.MemberEpoch); err != nil {
					g.ErrorCode = errCode(err)
					resp.Groups = append(resp.Groups, g)
					continue
				}
			}
			topics, order := map[string][]int32{}, []string(nil)
			for _, t := range rg.Topics {
				if _, ok := topics[t.Topic]; !ok {
					order = append(order, t.Topic)
				}
				topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
			}
			for _, ft := range b.fetchGroupOffsets(rg.Group, rg.Topics == nil, topics, order) {
				gt := kmsg.NewOffsetFetchResponseGroupTopic()
				gt.Topic = ft.topic
				for _, f := range ft.parts {
					gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata = f.Partition, f.Offset.Offset, f.LeaderEpoch, ptrStr(f.Metadata)
					gt.Partitions = append(gt.Partitions, gp)
				}
				g.Topics = append(g.Topics, gt)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return wire.Reply{Resp: resp}
	}
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return wire.Reply{Resp: resp}
	}
	topics, order := map[string][]int32{}, []string(nil)
	for _, t := range req.Topics {
		if _, ok := topics[t.Topic]; !ok {
			order = append(order, t.Topic)
		}
		topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
	}
	all := req.Topics == nil && req.Version >= 2
	for _, ft := range b.fetchGroupOffsets(req.Group, all, topics, order) {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = ft.topic
		for _, f := range ft.parts {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = f.Partition, f.Offset.Offset, f.LeaderEpoch, ptrStr(f.Metadata)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return wire.Reply{Resp: resp}
}
