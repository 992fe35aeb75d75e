package broker

// JoinGroup, versions 0-9. The answer waits (on the connection's writer goroutine) until
// the rebalance completes: every known member rejoined, or the rebalance timeout passed.
// From v4 a member without an id first gets MEMBER_ID_REQUIRED with its id; v5+ static
// membership (group.instance.id). Semantics: core/group.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.JoinGroup, 0, 9, handleJoinGroup) }

func handleJoinGroup(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.JoinGroupRequest)
	version := req.Version
	if req.Group == "" {
		return wire.Reply{Resp: joinResponse(version, group.JoinResult{Err: kerr.InvalidGroupID, MemberID: req.MemberID})}
	}
	r := group.JoinRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: derefStr(req.InstanceID),
		ClientID: c.ClientID(), ClientHost: clientHost(c), ProtocolType: req.ProtocolType,
		SessionTimeout:     msDur(req.SessionTimeoutMillis),
		RequireKnownMember: version >= 4,
	}
	if version >= 1 {
		r.RebalanceTimeout = msDur(req.RebalanceTimeoutMillis)
	}
	for _, p := range req.Protocols {
		r.Protocols = append(r.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	res, ch := b.groups.Join(r)
	if ch == nil {
		return wire.Reply{Resp: joinResponse(version, res)}
	}
	return wire.Reply{Later: func() wire.Reply {
		select {
		case res = <-ch:
		case <-c.Context().Done():
			return wire.Reply{}
		case <-b.stop:
			res = group.JoinResult{Err: kerr.NotCoordinator, MemberID: r.MemberID}
		}
		return wire.Reply{Resp: joinResponse(version, res)}
	}}
}

func joinResponse(version int16, res group.JoinResult) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.MemberID = res.MemberID
	if res.Err != nil {
		resp.ErrorCode = errCode(res.Err)
		resp.Generation = -1
		return resp
	}
	resp.Generation = res.Generation
	resp.ProtocolType = ptrStr(res.ProtocolType)
	resp.Protocol = ptrStr(res.Protocol)
	resp.LeaderID = res.LeaderID
	resp.SkipAssignment = res.SkipAssignment
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.ProtocolMetadata = m.MemberID, m.Metadata
		if m.InstanceID != "" {
			rm.InstanceID = ptrStr(m.InstanceID)
		}
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
