package broker

// InitProducerId, versions 0-4, for idempotent producers: a fresh producer id with epoch
// 0, or (v3+, KIP-360) the same id with a bumped epoch when the client passes its current
// id and epoch. Transactional ids are not served yet (no transaction coordinator).

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

func init() { register(kmsg.InitProducerID, 0, 4, handleInitProducerID) }

func handleInitProducerID(b *Broker, _ *wire.Conn, kreq kmsg.Request) wire.Reply {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return wire.Reply{Resp: resp}
	}
	if req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1 {
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		return wire.Reply{Resp: resp}
	}
	id, err := b.pids.allocate()
	if err != nil {
		b.log.Error("allocating a producer id", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return wire.Reply{Resp: resp}
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return wire.Reply{Resp: resp}
}
