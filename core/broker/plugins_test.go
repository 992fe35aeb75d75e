package broker_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
	"github.com/streamd/streamd/core/wasmhost"
	"github.com/streamd/streamd/partitioner"
)

func TestPluginAdminAPI(t *testing.T) {
	mis := wasmbuildtest.Module(t, guestDir+"misbehave")
	evil := wasmbuildtest.Module(t, guestDir+"evil")
	badabi := wasmbuildtest.Module(t, guestDir+"badabi")
	b, api := pluginBroker(t, "", withPlugins(func(p *config.PluginsConfig) { p.MaxModuleBytes = 8 << 20 }))

	info := api.upload("hash", "partitioner", mis, 201)
	sum := sha256.Sum256(mis)
	if info["name"] != "hash" || info["kind"] != "partitioner" || info["version"] != 1.0 || info["sha256"] != hex.EncodeToString(sum[:]) ||
		info["size"] != float64(len(mis)) || fmt.Sprint(info["used_by"]) != "[]" {
		t.Fatalf("upload answer %v", info)
	}
	api.upload("hash", "partitioner", mis, 200) // same module: no new version
	api.upload("rr", "assignor", mis, 201)

	// Bad input: a clear 4xx each.
	api.expectError("POST", "/v1/plugins/p", mis, 400, "missing ?kind=partitioner|assignor|transform")
	api.expectError("POST", "/v1/plugins/p?kind=sorter", mis, 400, `unknown plugin kind "sorter"`)
	api.expectError("POST", "/v1/plugins/.p?kind=partitioner", mis, 400, `invalid plugin name ".p"`)
	api.expectError("POST", "/v1/plugins/p?kind=partitioner", nil, 400, "empty body")
	api.expectError("POST", "/v1/plugins/p?kind=partitioner", []byte("MZ\x90\x00 not wasm"), 422, "invalid module")
	api.expectError("POST", "/v1/plugins/p?kind=partitioner", []byte("\x00asm\x01\x00\x00\x00"), 422, `missing export "memory"`)
	api.expectError("POST", "/v1/plugins/p?kind=partitioner", evil, 422, "import env.open_socket is not allowed")
	api.expectError("POST", "/v1/plugins/p?kind=partitioner", badabi, 422, "abi_version 99, host supports 2")
	api.expectError("POST", "/v1/plugins/p?kind=transform", mis, 422, "module does not register a transform")
	api.expectError("POST", "/v1/plugins/p?kind=partitioner", make([]byte, 8<<20+1), 413, "more than 8388608 bytes ([plugins] max_module_bytes)")
	api.expectError("POST", "/v1/plugins/hash?kind=assignor", mis, 409, `plugin "hash" is a partitioner; delete it before uploading a assignor`)
	api.expectError("GET", "/v1/plugins/nope", nil, 404, `no such plugin: "nope"`)
	api.expectError("GET", "/v1/plugins/nope/module", nil, 404, `no such plugin: "nope"`)
	api.expectError("GET", "/v1/plugins/hash/module?version=x", nil, 400, `bad version "x"`)
	api.expectError("GET", "/v1/plugins/hash/module?version=9", nil, 404, "no stored version 9")
	api.expectError("DELETE", "/v1/plugins/nope", nil, 404, `no such plugin: "nope"`)

	// Download: the bytes and their identity.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, got := api.do("GET", "/v1/plugins/hash/module", "", nil)
	if code != 200 || !bytes.Equal(got, mis) {
		t.Fatalf("download: %d, %d bytes", code, len(got))
	}
	remote, err := partitioner.FetchWasm(ctx, api.base, "hash", wasmhost.Config{CacheDir: wasmbuildtest.CompileCache(t), CallTimeout: slowCall})
	if err != nil {
		t.Fatal(err)
	}
	if remote.Version != "1" || remote.SHA256 != hex.EncodeToString(sum[:]) || remote.Name() != "wasm:hash" {
		t.Fatalf("remote %s %s %s", remote.Version, remote.SHA256, remote.Name())
	}
	remote.Close()
	if _, err := partitioner.FetchWasm(ctx, api.base, "rr", wasmhost.Config{CallTimeout: slowCall}); err == nil || !strings.Contains(err.Error(), "plugin rr is a assignor, not a partitioner") {
		t.Fatalf("fetch an assignor: %v", err)
	}

	// In use: a topic and a group; delete is refused until both are detached.
	adm := newAdmin(t, b.Addr())
	cl := newClient(t, b.Addr())
	createTopic(t, adm, "orders", 3, map[string]*string{"partitioner": kadm.StringPtr("wasm:hash")})
	if code, msg := setGroupAssignor(t, cl, "billing", "wasm:rr"); code != nil {
		t.Fatalf("set wasm:rr: %v %s", code, msg)
	}
	api.expectError("DELETE", "/v1/plugins/hash", nil, 409, `plugin "hash" is used by topic orders; detach it first`)
	api.expectError("DELETE", "/v1/plugins/rr", nil, 409, `plugin "rr" is used by group billing`)
	code, got = api.do("GET", "/v1/plugins", "", nil)
	var list struct {
		Plugins []struct {
			Name   string   `json:"name"`
			Kind   string   `json:"kind"`
			UsedBy []string `json:"used_by"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(got, &list); err != nil || code != 200 || len(list.Plugins) != 2 ||
		fmt.Sprint(list.Plugins[0].UsedBy) != "[topic orders]" || fmt.Sprint(list.Plugins[1].UsedBy) != "[group billing]" {
		t.Fatalf("list: %d %s", code, got)
	}
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "partitioner", Value: kadm.StringPtr("murmur2")}}, "orders"); err != nil {
		t.Fatal(err)
	}
	if code, msg := setGroupAssignor(t, cl, "billing", ""); code != nil {
		t.Fatalf("unset: %v %s", code, msg)
	}
	for _, n := range []string{"hash", "rr"} {
		if code, body := api.do("DELETE", "/v1/plugins/"+n, "", nil); code != 200 {
			t.Fatalf("delete %s: %d %s", n, code, body)
		}
	}
	if code, body := api.do("GET", "/v1/plugins", "", nil); code != 200 || string(body) != "{\"plugins\":[]}\n" {
		t.Fatalf("list after delete: %d %s", code, body)
	}
}

// TestPartitionerConfigValidated: partitioner=wasm:NAME needs an existing partitioner.
func TestPartitionerConfigValidated(t *testing.T) {
	mis := wasmbuildtest.Module(t, guestDir+"misbehave")
	b, api := pluginBroker(t, "")
	api.upload("rr", "assignor", mis, 201)
	adm := newAdmin(t, b.Addr())
	ctx := ctxT(t, 30*time.Second)
	for _, tc := range []struct{ value, msg string }{
		{"wasm:nope", `partitioner wasm:nope: no such plugin: "nope"`},
		{"wasm:rr", `partitioner wasm:rr: wrong plugin kind: plugin "rr" is a assignor, not a partitioner`},
		{"wasm:", `invalid plugin name ""`},
		{"fnv", `must be one of murmur2, round-robin, sticky, consistent-random or wasm:NAME`},
	} {
		resp, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"partitioner": kadm.StringPtr(tc.value)}, "t")
		if err == nil {
			err = resp.Err
		}
		if !errors.Is(err, kerr.InvalidConfig) || !strings.Contains(resp.ErrMessage, tc.msg) {
			t.Errorf("create with partitioner=%s: %v %q, want INVALID_CONFIG with %q", tc.value, err, resp.ErrMessage, tc.msg)
		}
	}
	createTopic(t, adm, "t", 2, nil)
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "partitioner", Value: kadm.StringPtr("wasm:nope")}}, "t")
	if err != nil || !errors.Is(resps[0].Err, kerr.InvalidConfig) || !strings.Contains(resps[0].ErrMessage, `no such plugin: "nope"`) {
		t.Fatalf("alter to wasm:nope: %v %+v", err, resps)
	}
	resps, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "partitioner", Value: kadm.StringPtr("round-robin")}, {Op: kadm.SetConfig, Name: "partitioner.enforce", Value: kadm.StringPtr("true")}}, "t")
	if err != nil || !errors.Is(resps[0].Err, kerr.InvalidConfig) || !strings.Contains(resps[0].ErrMessage, "cannot be true with partitioner round-robin") {
		t.Fatalf("round-robin + enforce: %v %+v", err, resps)
	}
}

// TestHTTPProduceWasmPartitioner: the HTTP produce endpoint places records with the
// topic's Wasm partitioner, durably, and they read back through Kafka where it said.
func TestHTTPProduceWasmPartitioner(t *testing.T) {
	mis := wasmbuildtest.Module(t, guestDir+"misbehave")
	b, api := pluginBroker(t, "")
	api.upload("hash", "partitioner", mis, 201)
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "orders", 5, map[string]*string{"partitioner": kadm.StringPtr("wasm:hash")})
	keys := keysN("customer-", 200)
	code, res := api.produce("orders", keys...)
	if code != 200 || len(res.Offsets) != len(keys) {
		t.Fatalf("produce: %d %+v", code, res)
	}
	where := map[string][2]int64{}
	for i, k := range keys {
		o := res.Offsets[i]
		if o.Partition != int32(fnv1a([]byte(k))%5) || o.Offset == nil {
			t.Fatalf("record %s: %+v, want partition %d", k, o, fnv1a([]byte(k))%5)
		}
		where[k] = [2]int64{int64(o.Partition), *o.Offset}
	}
	for _, r := range consumeN(t, b.Addr(), "orders", len(keys)) {
		if w := where[string(r.Key)]; w != [2]int64{int64(r.Partition), r.Offset} || string(r.Value) != "value of "+string(r.Key) {
			t.Fatalf("consumed %s at %d/%d = %q, produce said %v", r.Key, r.Partition, r.Offset, r.Value, w)
		}
	}

	// Built-in partitioners work too: murmur2 (the default) as the Java client.
	createTopic(t, adm, "plain", 64, nil)
	if code, res := api.produce("plain", "foobar"); code != 200 || res.Offsets[0].Partition != 62 {
		t.Fatalf("murmur2: %d %+v", code, res)
	}

	// Bad input.
	api.expectError("POST", "/v1/topics/orders/records", []byte(`{"records": [`), 400, "bad JSON")
	api.expectError("POST", "/v1/topics/orders/records", []byte(`{"records": [{"key": 1}]}`), 400, "bad JSON")
	api.expectError("POST", "/v1/topics/orders/records", []byte(`{"recs": []}`), 400, `unknown field "recs"`)
	api.expectError("POST", "/v1/topics/orders/records", []byte(`{"records": []}`), 400, "no records")
	api.expectError("POST", "/v1/topics/orders/records", []byte(`{"records": [{"value": "v", "headers": [{"value": "x"}]}]}`), 400, "record 0: header 0 has no key")
	api.expectError("POST", "/v1/topics/nope/records", []byte(`{"records": [{"value": "v"}]}`), 404, "topic nope does not exist")
	createTopic(t, adm, "compacted", 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	api.expectError("POST", "/v1/topics/compacted/records", []byte(`{"records": [{"value": "no key"}]}`), 400, "INVALID_RECORD")
	createTopic(t, adm, "small", 1, map[string]*string{"max.message.bytes": kadm.StringPtr("200")})
	api.expectError("POST", "/v1/topics/small/records", []byte(`{"records": [{"value": "`+strings.Repeat("x", 300)+`"}]}`), 413, "MESSAGE_TOO_LARGE")
}

// TestPartitionerEnforce: a Kafka produce to a partition the topic's partitioner does not
// give the record is rejected with INVALID_RECORD naming the right partition; a producer
// using the downloaded plugin (or, for murmur2, any Kafka client's default) is accepted.
func TestPartitionerEnforce(t *testing.T) {
	mis := wasmbuildtest.Module(t, guestDir+"misbehave")
	b, api := pluginBroker(t, "")
	api.upload("hash", "partitioner", mis, 201)
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "strict", 4, map[string]*string{"partitioner": kadm.StringPtr("wasm:hash"), "partitioner.enforce": kadm.StringPtr("true")})
	ctx := ctxT(t, 60*time.Second)

	key := "alice"
	right := int32(fnv1a([]byte(key)) % 4)
	wrong := (right + 1) % 4
	manual := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite(), kgo.RecordRetries(0))
	err := manual.ProduceSync(ctx, &kgo.Record{Topic: "strict", Partition: wrong, Key: []byte(key)}).FirstErr()
	want := fmt.Sprintf(`record 0 of the batch (key "alice") belongs to partition %d by partitioner wasm:hash, not %d`, right, wrong)
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("wrong partition: %v, want INVALID_RECORD", err)
	}
	// kgo drops the broker's message; read it with a raw request.
	if msg := rawProduceError(t, b.Addr(), "strict", wrong, []byte(key)); !strings.Contains(msg, want) {
		t.Fatalf("message %q, want %q", msg, want)
	}
	if err := manual.ProduceSync(ctx, &kgo.Record{Topic: "strict", Partition: right, Key: []byte(key)}).FirstErr(); err != nil {
		t.Fatalf("right partition: %v", err)
	}

	remote, err := partitioner.FetchWasm(ctx, api.base, "hash", wasmhost.Config{CacheDir: wasmbuildtest.CompileCache(t), CallTimeout: slowCall})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	kp := partitioner.NewKgo(remote)
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kp))
	var recs []*kgo.Record
	for _, k := range keysN("k", 100) {
		recs = append(recs, &kgo.Record{Topic: "strict", Key: []byte(k), Value: []byte("v")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil || kp.Err() != nil {
		t.Fatalf("produce with the downloaded partitioner: %v %v", err, kp.Err())
	}
	for _, r := range recs {
		if r.Partition != int32(fnv1a(r.Key)%4) {
			t.Fatalf("%s went to %d", r.Key, r.Partition)
		}
	}

	// murmur2 + enforce: any Kafka client's default partitioner agrees for keyed records;
	// keyless records are not checked.
	createTopic(t, adm, "strict2", 6, map[string]*string{"partitioner.enforce": kadm.StringPtr("true")})
	plain := newClient(t, b.Addr())
	for _, r := range recs {
		r.Topic, r.Partition = "strict2", -1
	}
	recs = append(recs, &kgo.Record{Topic: "strict2", Value: []byte("no key")})
	if err := plain.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("kgo default partitioner on a murmur2 enforced topic: %v", err)
	}
}
