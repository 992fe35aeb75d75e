package broker

// Heartbeat, versions 0-4: REBALANCE_IN_PROGRESS tells a member to rejoin; a member whose
// heartbeats stop for its session timeout is removed (core/group's sweeper).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.Heartbeat, 0, 4, handleHeartbeat) }

func handleHeartbeat(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return wire.Reply{Resp: resp}
	}
	resp.ErrorCode = errCode(b.groups.Heartbeat(req.Group, req.Generation, req.MemberID, derefStr(req.InstanceID)))
	return wire.Reply{Resp: resp}
}
