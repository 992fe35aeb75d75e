package broker

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wire"
)

// handlerFunc serves one request. It runs on the connection's reader goroutine; anything
// that waits goes into the returned Reply's Later.
type handlerFunc func(b *Broker, c *wire.Conn, req kmsg.Request) wire.Reply

type apiHandler struct {
	min, max int16
	fn       handlerFunc
}

// handlers is filled by the init functions of the NN_*.go files and never changes after.
var handlers = map[int16]apiHandler{}

// register declares that key is served for versions [min, max].
func register(key kmsg.Key, min, max int16, fn handlerFunc) {
	k := key.Int16()
	if _, dup := handlers[k]; dup {
		panic(fmt.Sprintf("broker: api key %d registered twice", k))
	}
	if max > kmsg.RequestForKey(k).MaxVersion() {
		panic(fmt.Sprintf("broker: api key %d max version %d beyond kmsg", k, max))
	}
	handlers[k] = apiHandler{min: min, max: max, fn: fn}
}

// Versions implements wire.Handler.
func (b *Broker) Versions(key int16) (int16, int16, bool) {
	h, ok := handlers[key]
	return h.min, h.max, ok
}

// APIKeys implements wire.Handler: every registered key, sorted.
func (b *Broker) APIKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(handlers))
	for k, h := range handlers {
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, h.min, h.max
		keys = append(keys, ak)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ApiKey < keys[j].ApiKey })
	return keys
}

// Handle implements wire.Handler. (A panicking handler is recovered by the wire layer,
// which logs it and closes only that connection.)
func (b *Broker) Handle(c *wire.Conn, req kmsg.Request) wire.Reply {
	return handlers[req.Key()].fn(b, c, req)
}
