package broker

// OffsetCommit, versions 0-9 (v10 names topics by id and is not served). Commits are
// validated against the group (generation, member), appended to the group's
// __consumer_offsets partition as one batch, and acknowledged once durable; only then are
// they visible to OffsetFetch. A negative generation commits for an empty group (admin
// tools, standalone consumers).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.OffsetCommit, 0, 9, handleOffsetCommit) }

// maxOffsetMetadata is Kafka's offset.metadata.max.bytes default.
const maxOffsetMetadata = 4096

func handleOffsetCommit(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	codes := make([][]int16, len(req.Topics))
	for i, rt := range req.Topics {
		codes[i] = make([]int16, len(rt.Partitions))
	}
	fillAll := func(code int16) {
		for i := range codes {
			for j := range codes[i] {
				if codes[i][j] == 0 {
					codes[i][j] = code
				}
			}
		}
	}
	build := func() *kmsg.OffsetCommitResponse {
		for i, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for j, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, codes[i][j]
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	if req.Group == "" {
		fillAll(kerr.InvalidGroupID.Code)
		return wire.Reply{Resp: build()}
	}
	gen, memberID := req.Generation, req.MemberID
	if req.Version == 0 {
		gen, memberID = -1, ""
	}
	var tps []group.TopicPartition
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			tps = append(tps, group.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
		}
	}
	stale, err := b.groups.ValidateCommit(req.Group, req.Version, gen, memberID, derefStr(req.InstanceID), tps)
	if err != nil {
		fillAll(errCode(err))
		return wire.Reply{Resp: build()}
	}
	now := group.NowMillis()
	offs := map[group.TopicPartition]group.Offset{}
	var recs []batch.Record
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			if _, err := b.partitionOf(rt.Topic, rp.Partition); err != nil {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			md := derefStr(rp.Metadata)
			if len(md) > maxOffsetMetadata {
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := group.Offset{Offset: rp.Offset, LeaderEpoch: -1, Metadata: md, CommitTime: now}
			if req.Version >= 6 {
				o.LeaderEpoch = rp.LeaderEpoch
			}
			tp := group.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			if err := stale[tp]; err != nil {
				codes[i][j] = errCode(err)
				continue
			}
			offs[tp] = o
			recs = append(recs, batch.Record{Key: group.OffsetKey(req.Group, tp), Value: group.OffsetValue(o)})
		}
	}
	if len(recs) == 0 {
		return wire.Reply{Resp: build()}
	}
	p, last, err := b.appendGroupRecords(c.Context(), req.Group, recs)
	if err != nil {
		fillAll(errCode(err))
		return wire.Reply{Resp: build()}
	}
	name := req.Group
	return wire.Reply{Later: func() wire.Reply {
		if err := b.waitGroupDurable(c.Context(), p, last); err != nil {
			fillAll(errCode(err))
			return wire.Reply{Resp: build()}
		}
		b.groups.Commit(name, offs)
		return wire.Reply{Resp: build()}
	}}
}
