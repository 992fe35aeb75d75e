package broker

// ListGroups, versions 0-5: every live group, filtered by state (v4+, case-insensitive)
// and type (v5+: "classic" or "consumer" for KIP-848 groups, whose states are Empty,
// Assigning, Reconciling and Stable).

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.ListGroups, 0, 5, handleListGroups) }

func handleListGroups(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	matches := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	for _, l := range b.groups.List() {
		if !matches(req.StatesFilter, l.State) || !matches(req.TypesFilter, l.Type) {
			continue
		}
		g := kmsg.NewListGroupsResponseGroup()
		g.Group, g.ProtocolType, g.GroupState, g.GroupType = l.Group, l.ProtocolType, l.State, l.Type
		resp.Groups = append(resp.Groups, g)
	}
	return wire.Reply{Resp: resp}
}
