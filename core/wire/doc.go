// Package wire serves the Kafka wire protocol over TCP: it frames requests, parses request
// headers, hands each decoded kmsg.Request to a Handler, and writes responses back in
// request order.
//
// Framing (part of the protocol, see the Kafka protocol guide):
//
//	request  = size:int32 | api_key:int16 | api_version:int16 | correlation_id:int32
//	           | client_id:nullable_string | [tagged_fields if flexible] | body
//	response = size:int32 | correlation_id:int32 | [tagged_fields if flexible and key != 18]
//	           | body
//
// Every body is encoded and decoded by github.com/twmb/franz-go/pkg/kmsg.
//
// Concurrency: each connection has exactly two goroutines. The reader reads a frame,
// decodes it and calls Handler.Handle synchronously, so handlers see one connection's
// requests strictly in order (appends from one producer connection are ordered). Handle
// returns a Reply; a Reply may defer part of its work (waiting for fsync, long-polling a
// fetch) to a Later function. The writer goroutine runs Later functions and writes
// responses strictly in request order, so pipelined requests are answered in order
// while the reader already decodes (and appends) the next request.
//
// Bad input never affects other connections: an oversized frame, a frame that does not
// decode, or an unknown API key or version closes only that connection, with a log line
// naming the client. ApiVersions at an unknown version is answered per KIP-511.
package wire
