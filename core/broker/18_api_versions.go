package broker

// ApiVersions, versions 0-4. v5 requests get the KIP-511 fallback from core/wire.
// The key list is derived from every handler file's register call.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.ApiVersions, 0, 4, handleAPIVersions) }

func handleAPIVersions(b *Broker, _ *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = b.APIKeys()
	return wire.Reply{Resp: resp}
}
