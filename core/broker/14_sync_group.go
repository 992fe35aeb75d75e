package broker

// SyncGroup, versions 0-5. The leader's assignments are handed to every member; a
// follower's answer waits for the leader's sync (on the writer goroutine).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.SyncGroup, 0, 5, handleSyncGroup) }

func handleSyncGroup(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.SyncGroupRequest)
	version := req.Version
	if req.Group == "" {
		return wire.Reply{Resp: syncResponse(version, group.SyncResult{Err: kerr.InvalidGroupID})}
	}
	var assign map[string][]byte
	if len(req.GroupAssignment) > 0 {
		assign = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			assign[a.MemberID] = a.MemberAssignment
		}
	}
	res, ch := b.groups.Sync(req.Group, req.Generation, req.MemberID, derefStr(req.InstanceID),
		derefStr(req.ProtocolType), derefStr(req.Protocol), assign)
	if ch == nil {
		return wire.Reply{Resp: syncResponse(version, res)}
	}
	return wire.Reply{Later: func() wire.Reply {
		select {
		case res = <-ch:
		case <-c.Context().Done():
			return wire.Reply{}
		case <-b.stop:
			res = group.SyncResult{Err: kerr.NotCoordinator}
		}
		return wire.Reply{Resp: syncResponse(version, res)}
	}}
}

func syncResponse(version int16, res group.SyncResult) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = version
	resp.MemberAssignment = []byte{}
	if res.Err != nil {
		resp.ErrorCode = errCode(res.Err)
		return resp
	}
	resp.ProtocolType, resp.Protocol = ptrStr(res.ProtocolType), ptrStr(res.Protocol)
	if res.Assignment != nil {
		resp.MemberAssignment = res.Assignment
	}
	return resp
}
