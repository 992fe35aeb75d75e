package broker

// Metadata, versions 0-12. Topic IDs from v10; auto-creation of requested topics per
// auto.create.topics.enable (and the request's AllowAutoTopicCreation from v4).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.Metadata, 0, 12, handleMetadata) }

func handleMetadata(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID, br.Host, br.Port = b.nodeID, b.host, b.port
	resp.Brokers = append(resp.Brokers, br)
	resp.ClusterID = &b.clusterID
	resp.ControllerID = b.nodeID

	allowAuto := req.AllowAutoTopicCreation || req.Version < 4
	var list []*topic
	switch {
	case req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0):
		list = b.sortedTopics()
	default:
		for _, rt := range req.Topics {
			var t *topic
			name := ""
			if rt.Topic != nil {
				name = *rt.Topic
				t = b.lookup(name)
			} else {
				t = b.lookupID(rt.TopicID)
			}
			if t == nil && rt.Topic != nil && allowAuto {
				var err error
				if err = validTopicName(name); err == nil {
					t, err = b.autoCreate(c.Context(), name)
				}
				if err != nil && t == nil {
					code, _ := codeOf(err)
					resp.Topics = append(resp.Topics, metadataTopicError(name, rt.TopicID, code))
					continue
				}
			}
			if t == nil {
				code := kerr.UnknownTopicOrPartition.Code
				if rt.Topic == nil {
					code = kerr.UnknownTopicID.Code
				} else if validTopicName(name) != nil {
					code = kerr.InvalidTopicException.Code
				}
				resp.Topics = append(resp.Topics, metadataTopicError(name, rt.TopicID, code))
				continue
			}
			list = append(list, t)
		}
	}
	for _, t := range list {
		mt := kmsg.NewMetadataResponseTopic()
		name := t.meta.Name
		mt.Topic = &name
		mt.TopicID = t.meta.ID
		mt.IsInternal = t.meta.Internal
		for i, p := range t.parts {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition = int32(i)
			mp.Leader = b.nodeID
			mp.LeaderEpoch = p.epoch
			mp.Replicas = []int32{b.nodeID}
			mp.ISR = []int32{b.nodeID}
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return wire.Reply{Resp: resp}
}

func metadataTopicError(name string, id [16]byte, code int16) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	if name != "" {
		mt.Topic = &name
	}
	mt.TopicID = id
	mt.ErrorCode = code
	return mt
}
