package broker

// DeleteTopics, versions 0-6 (by name, or by topic id from v6). Deleting a topic removes
// its metadata and then its partition directories.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.DeleteTopics, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, rt := range req.Topics {
			targets = append(targets, target{name: rt.Topic, id: rt.TopicID})
		}
	} else {
		for _, n := range req.TopicNames {
			targets = append(targets, target{name: &n})
		}
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		var t *topic
		if tg.name != nil {
			t = b.lookup(*tg.name)
		} else {
			t = b.lookupID(tg.id)
		}
		var err error
		switch {
		case t == nil && tg.name == nil:
			err = kafkaErr(kerr.UnknownTopicID, "no topic with id %s", topicIDString(tg.id))
		case t == nil:
			err = kafkaErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", *tg.name)
		default:
			name := t.meta.Name
			st.Topic, st.TopicID = &name, t.meta.ID
			err = b.deleteTopic(c.Context(), t)
		}
		if err != nil {
			code, msg := codeOf(err)
			st.ErrorCode = code
			if req.Version >= 5 && msg != "" {
				st.ErrorMessage = &msg
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return wire.Reply{Resp: resp}
}
