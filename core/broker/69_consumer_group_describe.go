package broker

// ConsumerGroupDescribe, versions 0-1 (KIP-848): state, group epoch, target assignment
// epoch, the assignor that computed the target assignment (the group's group.assignor or
// the members' choice) and every member with its epoch, subscription, current and target
// assignment (topic ids and names). Unknown and classic groups get GROUP_ID_NOT_FOUND.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.ConsumerGroupDescribe, 0, 1, handleConsumerGroupDescribe) }

func handleConsumerGroupDescribe(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, name := range req.Groups {
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group = name
		if req.IncludeAuthorizedOperations {
			g.AuthorizedOperations = allGroupOperations
		}
		if name == "" {
			g.ErrorCode = kerr.InvalidGroupID.Code
			resp.Groups = append(resp.Groups, g)
			continue
		}
		d := b.groups.ConsumerDescribe(name)
		if d.Err != nil {
			code, msg := codeOf(d.Err)
			g.ErrorCode, g.ErrorMessage = code, &msg
			resp.Groups = append(resp.Groups, g)
			continue
		}
		g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
		for _, m := range d.Members {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.MemberEpoch, rm.ClientID, rm.ClientHost = m.MemberID, m.Epoch, m.ClientID, m.ClientHost
			if m.InstanceID != "" {
				rm.InstanceID = ptrStr(m.InstanceID)
			}
			if m.RackID != "" {
				rm.RackID = ptrStr(m.RackID)
			}
			if m.Regex != "" {
				rm.SubscribedTopicRegex = ptrStr(m.Regex)
			}
			rm.SubscribedTopics = m.Topics
			if rm.SubscribedTopics == nil {
				rm.SubscribedTopics = []string{}
			}
			rm.MemberType = 1 // consumer protocol (v1)
			rm.Assignment = b.describedAssignment(m.Assigned)
			rm.TargetAssignment = b.describedAssignment(m.Target)
			g.Members = append(g.Members, rm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return wire.Reply{Resp: resp}
}

func (b *Broker) describedAssignment(ps group.Partitions) kmsg.Assignment {
	a := kmsg.NewAssignment()
	names := make([]string, 0, len(ps))
	for name := range ps {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		id, ok := b.topicID(name)
		if !ok {
			continue
		}
		tp := kmsg.NewAssignmentTopicPartition()
		tp.TopicID, tp.Topic, tp.Partitions = id, name, ps[name]
		a.TopicPartitions = append(a.TopicPartitions, tp)
	}
	return a
}
