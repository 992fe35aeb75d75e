package broker

// DeleteGroups, versions 0-2: only empty groups can be deleted (NON_EMPTY_GROUP
// otherwise); their committed offsets get tombstones in __consumer_offsets, acknowledged
// once durable.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.DeleteGroups, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	names := append([]string(nil), req.Groups...)
	return wire.Reply{Later: func() wire.Reply {
		for _, name := range names {
			g := kmsg.NewDeleteGroupsResponseGroup()
			g.Group = name
			if name == "" {
				g.ErrorCode = kerr.InvalidGroupID.Code
				resp.Groups = append(resp.Groups, g)
				continue
			}
			tps, err := b.groups.Delete(name)
			if err == nil {
				err = b.tombstones(c.Context(), name, tps)
			}
			g.ErrorCode = errCode(err)
			resp.Groups = append(resp.Groups, g)
		}
		return wire.Reply{Resp: resp}
	}}
}
