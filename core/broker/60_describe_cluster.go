package broker

// DescribeCluster, versions 0-1: this node is the whole cluster and its controller.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.DescribeCluster, 0, 1, handleDescribeCluster) }

func handleDescribeCluster(b *Broker, _ *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.EndpointType > 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "only the broker endpoint type (1) is served"
		resp.ErrorMessage = &msg
		return wire.Reply{Resp: resp}
	}
	resp.ClusterID = b.clusterID
	resp.ControllerID = b.nodeID
	resp.EndpointType = 1
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = b.nodeID, b.host, b.port
	resp.Brokers = append(resp.Brokers, br)
	if !req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = -2147483648
	}
	return wire.Reply{Resp: resp}
}
