package broker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/broker"
	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
	"github.com/streamd/streamd/core/wasmhost"
)

const guestDir = "../../plugins/testdata/"

// slowCall is the plugin call timeout of the tests (unless one needs a deadline to hit):
// starting an instance counts against it and takes seconds on a loaded CI machine.
const slowCall = 30 * time.Second

// pluginBroker starts a broker whose compiled plugins are shared with the other tests
// (compiling a Go guest takes seconds, tens of seconds under -race); plugin calls get
// slowCall unless opts say otherwise.
func pluginBroker(t *testing.T, dir string, opts ...brokertest.Option) (*broker.Broker, *adminClient) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	wasmbuildtest.LinkCompileCache(t, dir)
	base := []brokertest.Option{brokertest.WithDataDir(dir), withPlugins(func(p *config.PluginsConfig) { p.CallTimeoutMs = slowCall.Milliseconds() })}
	b := brokertest.StartBroker(t, append(base, opts...)...)
	return b, &adminClient{t: t, base: "http://" + b.AdminAddr()}
}

// withPlugins changes the [plugins] settings.
func withPlugins(fn func(*config.PluginsConfig)) brokertest.Option {
	return brokertest.WithConfig(func(c *config.Config) { fn(&c.Plugins) })
}

// adminClient calls the admin HTTP API.
type adminClient struct {
	t    *testing.T
	base string
}

// do sends a request and returns the status and body.
func (a *adminClient) do(method, path, contentType string, body []byte) (int, []byte) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// upload POSTs a module and fails the test unless the status is want.
func (a *adminClient) upload(name, kind string, wasm []byte, want int) map[string]any {
	a.t.Helper()
	code, body := a.do("POST", "/v1/plugins/"+name+"?kind="+kind, "application/wasm", wasm)
	if code != want {
		a.t.Fatalf("upload %s (%s): %d %s, want %d", name, kind, code, body, want)
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return m
}

// expectError checks an error answer: status and a message containing msg.
func (a *adminClient) expectError(method, path string, body []byte, status int, msg string) {
	a.t.Helper()
	code, got := a.do(method, path, "", body)
	var e struct{ Error string }
	if err := json.Unmarshal(got, &e); err != nil || code != status || !strings.Contains(e.Error, msg) {
		a.t.Errorf("%s %s: %d %s; want %d with an error containing %q", method, path, code, got, status, msg)
	}
}

type produced struct {
	Offsets []struct {
		Partition int32  `json:"partition"`
		Offset    *int64 `json:"offset"`
		Error     string `json:"error"`
	} `json:"offsets"`
	Error string `json:"error"`
}

// produce POSTs records (key → value) to the HTTP produce endpoint.
func (a *adminClient) produce(topic string, keys ...string) (int, produced) {
	a.t.Helper()
	type rec struct {
		Key   *string `json:"key"`
		Value string  `json:"value"`
	}
	var req struct {
		Records []rec `json:"records"`
	}
	for i := range keys {
		req.Records = append(req.Records, rec{Key: &keys[i], Value: "value of " + keys[i]})
	}
	body, _ := json.Marshal(req)
	code, got := a.do("POST", "/v1/topics/"+topic+"/records", "application/json", body)
	var p produced
	if err := json.Unmarshal(got, &p); err != nil {
		a.t.Fatalf("produce to %s: %d %s: %v", topic, code, got, err)
	}
	return code, p
}

// localPartitioner loads a module in a runtime of the test's own, to compute where its
// records belong.
func localPartitioner(t *testing.T, wasm []byte) *wasmhost.Plugin {
	t.Helper()
	rt, err := wasmhost.NewRuntime(context.Background(), wasmhost.Config{CacheDir: wasmbuildtest.CompileCache(t), CallTimeout: slowCall, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	p, err := rt.Load(context.Background(), "local", wasm, wasmhost.KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// placeAll returns the partitions p gives keys among n.
func placeAll(t *testing.T, p *wasmhost.Plugin, topic string, n int32, keys []string) []int32 {
	t.Helper()
	recs := make([]wasmhost.Record, len(keys))
	for i, k := range keys {
		recs[i] = wasmhost.Record{Key: []byte(k)}
	}
	out, err := p.Partition(context.Background(), topic, n, recs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fnv1a is the 32-bit FNV-1a hash the misbehave test plugin places keyed records by.
func fnv1a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

func keysN(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// rawProduceError produces one record to topic/partition with a raw Produce request (by
// topic name) and returns the partition's error and message.
func rawProduceError(t *testing.T, addr, topic string, partition int32, key []byte) string {
	t.Helper()
	cl := newClient(t, addr, kgo.MaxVersions(kversion12()))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Key: key, Value: []byte("v")}}, time.Now().UnixMilli())
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorMessage == nil {
		return kerr.ErrorForCode(sp.ErrorCode).Error()
	}
	return kerr.ErrorForCode(sp.ErrorCode).Error() + ": " + *sp.ErrorMessage
}

func jsonInto(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }
