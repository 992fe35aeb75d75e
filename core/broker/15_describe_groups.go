package broker

// DescribeGroups, versions 0-5. An unknown group, and a KIP-848 consumer group (described
// by ConsumerGroupDescribe), is described as Dead with no error (as Kafka does below v6);
// metadata and assignments are shown in the Stable state only. The protocol
// is the clients' one even when group.assignor made the assignment (the wire has no field
// for it): the coordinator logs "group assignment computed by the broker" and keeps it in
// group.Description.AssignedBy; "streamd group describe" shows group.assignor.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.DescribeGroups, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range req.Groups {
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group = name
		if name == "" {
			g.ErrorCode = kerr.InvalidGroupID.Code
			resp.Groups = append(resp.Groups, g)
			continue
		}
		d := b.groups.Describe(name)
		g.State, g.ProtocolType, g.Protocol = d.State.String(), d.ProtocolType, d.Protocol
		for _, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.ClientID, rm.ClientHost = m.MemberID, m.ClientID, m.ClientHost
			if m.InstanceID != "" {
				rm.InstanceID = ptrStr(m.InstanceID)
			}
			rm.ProtocolMetadata, rm.MemberAssignment = orEmpty(m.Metadata), orEmpty(m.Assignment)
			g.Members = append(g.Members, rm)
		}
		if req.IncludeAuthorizedOperations {
			g.AuthorizedOperations = allGroupOperations
		}
		resp.Groups = append(resp.Groups, g)
	}
	return wire.Reply{Resp: resp}
}

// allGroupOperations is the bit set of READ, DESCRIBE, DELETE (no ACLs are enforced).
const allGroupOperations = 1<<3 | 1<<8 | 1<<6

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
