package broker

// CreateTopics, versions 0-7. Replication factor above 1 is refused (one broker); -1
// partitions or replication factor take num.partitions / default.replication.factor.
// From v5 the response carries the topic's configs; from v7 its topic id.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.CreateTopics, 0, 7, handleCreateTopics) }

func handleCreateTopics(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		t, err := b.createFromRequest(c, req, rt, seen[rt.Topic])
		if err != nil {
			code, msg := codeOf(err)
			st.ErrorCode = code
			if req.Version >= 1 && msg != "" {
				st.ErrorMessage = &msg
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = t.meta.ID
		st.NumPartitions = int32(len(t.meta.Partitions))
		st.ReplicationFactor = 1
		for _, ce := range b.describeTopicConfigs(t, nil, false, false) {
			cc := kmsg.NewCreateTopicsResponseTopicConfig()
			cc.Name, cc.Value, cc.ReadOnly, cc.Source, cc.IsSensitive = ce.Name, ce.Value, ce.ReadOnly, int8(ce.Source), ce.IsSensitive
			st.Configs = append(st.Configs, cc)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Reply{Resp: resp}
}

func (b *Broker) createFromRequest(c *wire.Conn, req *kmsg.CreateTopicsRequest, rt kmsg.CreateTopicsRequestTopic, dups int) (*topic, error) {
	if dups > 1 {
		return nil, kafkaErr(kerr.InvalidRequest, "topic %q appears more than once in the request", rt.Topic)
	}
	partitions, rf := rt.NumPartitions, rt.ReplicationFactor
	if len(rt.ReplicaAssignment) > 0 {
		if partitions != -1 || rf != -1 {
			return nil, kafkaErr(kerr.InvalidRequest, "both numPartitions or replicationFactor and replicasAssignment were set")
		}
		for i, ra := range rt.ReplicaAssignment {
			if ra.Partition != int32(i) {
				return nil, kafkaErr(kerr.InvalidReplicaAssignment, "partitions must be assigned consecutively from 0, got partition %d at position %d", ra.Partition, i)
			}
			if len(ra.Replicas) != 1 || ra.Replicas[0] != b.nodeID {
				return nil, kafkaErr(kerr.InvalidReplicaAssignment, "partition %d: replicas %v, the only broker is %d", ra.Partition, ra.Replicas, b.nodeID)
			}
		}
		partitions, rf = int32(len(rt.ReplicaAssignment)), 1
	}
	configs := make(map[string]string, len(rt.Configs))
	for _, cf := range rt.Configs {
		if cf.Value == nil {
			return nil, kafkaErr(kerr.InvalidConfig, "config %q has a null value", cf.Name)
		}
		configs[cf.Name] = *cf.Value
	}
	return b.createTopic(c.Context(), rt.Topic, partitions, rf, configs, req.ValidateOnly)
}
