package broker

// LeaveGroup, versions 0-5 (v3+: a batch of members, by member id or instance id).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.LeaveGroup, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return wire.Reply{Resp: resp}
	}
	if req.Version < 3 {
		errs := b.groups.Leave(req.Group, []group.Leaver{{MemberID: req.MemberID}})
		resp.ErrorCode = errCode(errs[0])
		return wire.Reply{Resp: resp}
	}
	leavers := make([]group.Leaver, len(req.Members))
	for i, m := range req.Members {
		leavers[i] = group.Leaver{MemberID: m.MemberID, InstanceID: derefStr(m.InstanceID)}
	}
	errs := b.groups.Leave(req.Group, leavers)
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, errCode(errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return wire.Reply{Resp: resp}
}
