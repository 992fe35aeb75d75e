package broker

// ConsumerGroupHeartbeat, versions 0-1 (KIP-848; kgo needs v1, where the member chooses
// its id; v0 members join with an empty id and get one). Owned partitions arrive and
// assignments leave by topic id; a topic id this broker does not know is dropped. The
// answer waits until the group records the heartbeat changed are durable in
// __consumer_offsets (as Kafka answers after its records are committed); if the broker
// shuts down meanwhile the answer is NOT_COORDINATOR (the client retries, and the records
// are written before the broker exits). Semantics: core/group/consumer.go.

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.ConsumerGroupHeartbeat, 0, 1, handleConsumerGroupHeartbeat) }

func handleConsumerGroupHeartbeat(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.ConsumerGroupHeartbeatRequest)
	r := group.HeartbeatRequest{
		Group: req.Group, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch,
		InstanceID: req.InstanceID, RackID: req.RackID, RebalanceTimeout: req.RebalanceTimeoutMillis,
		Topics: req.SubscribedTopicNames, Regex: req.SubscribedTopicRegex, ServerAssignor: req.ServerAssignor,
		ClientID: c.ClientID(), ClientHost: clientHost(c), GenerateID: req.Version == 0,
	}
	if req.Topics != nil {
		r.Owned = group.Partitions{}
		for _, t := range req.Topics {
			if name, ok := b.topicName(t.TopicID); ok {
				r.Owned[name] = append(r.Owned[name], t.Partitions...)
			}
		}
	}
	res := b.groups.ConsumerHeartbeat(r)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	if res.Err != nil {
		code, msg := codeOf(res.Err)
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return wire.Reply{Resp: resp}
	}
	resp.MemberID = &res.MemberID
	resp.MemberEpoch = res.MemberEpoch
	resp.HeartbeatIntervalMillis = int32(res.Interval / time.Millisecond)
	if res.Assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		names := make([]string, 0, len(res.Assignment))
		for name := range res.Assignment {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			id, ok := b.topicID(name)
			if !ok {
				continue
			}
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID, t.Partitions = id, res.Assignment[name]
			a.Topics = append(a.Topics, t)
		}
		resp.Assignment = &a
	}
	if res.Persist == 0 {
		return wire.Reply{Resp: resp}
	}
	return wire.Reply{Later: func() wire.Reply {
		ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
		defer cancel()
		go func() { // the group writer stops with the broker: do not wait for it then
			select {
			case <-b.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := b.groups.WaitPersisted(ctx, res.Persist)
		switch {
		case err == nil:
			return wire.Reply{Resp: resp}
		case c.Context().Err() != nil:
			return wire.Reply{}
		}
		fail := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		fail.ErrorCode, fail.ErrorMessage = kerr.RequestTimedOut.Code, ptrStr("group state not written in time")
		select {
		case <-b.stop:
			fail.ErrorCode, fail.ErrorMessage = kerr.NotCoordinator.Code, ptrStr("the coordinator is shutting down")
		default:
		}
		return wire.Reply{Resp: fail}
	}}
}
