package broker

// FindCoordinator, versions 0-4 (v4: several keys per request). This broker coordinates
// every consumer group (key type 0); transactions (key type 1) are not served yet and get
// COORDINATOR_NOT_AVAILABLE.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.FindCoordinator, 0, 4, handleFindCoordinator) }

func handleFindCoordinator(b *Broker, c *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	answer := func(key string) kmsg.FindCoordinatorResponseCoordinator {
		co := kmsg.NewFindCoordinatorResponseCoordinator()
		co.Key = key
		switch {
		case req.CoordinatorType != 0:
			co.NodeID, co.Port = -1, -1
			co.ErrorCode = kerr.CoordinatorNotAvailable.Code
			co.ErrorMessage = ptrStr("transaction coordinator is not served yet")
		case key == "":
			co.NodeID, co.Port = -1, -1
			co.ErrorCode = kerr.InvalidGroupID.Code
		default:
			co.NodeID, co.Host, co.Port = b.nodeID, b.host, b.port
		}
		return co
	}
	if req.Version >= 4 {
		for _, k := range req.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, answer(k))
		}
		return wire.Reply{Resp: resp}
	}
	co := answer(req.CoordinatorKey)
	resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = co.ErrorCode, co.NodeID, co.Host, co.Port
	if req.Version >= 1 {
		resp.ErrorMessage = co.ErrorMessage
	}
	return wire.Reply{Resp: resp}
}
