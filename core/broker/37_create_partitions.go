package broker

// CreatePartitions, versions 0-3: grows a topic; explicit assignments must name this node.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.CreatePartitions, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		for _, a := range rt.Assignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != b.nodeID {
				err = kafkaErr(kerr.InvalidReplicaAssignment, "replicas %v: the only broker is %d", a.Replicas, b.nodeID)
			}
		}
		if err == nil {
			err = b.createPartitions(c.Context(), rt.Topic, rt.Count, req.ValidateOnly)
		}
		if err != nil {
			code, msg := codeOf(err)
			st.ErrorCode = code
			if msg != "" {
				st.ErrorMessage = &msg
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Reply{Resp: resp}
}
