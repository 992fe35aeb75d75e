//go:build !wasip1

package partitioner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/streamd/streamd/core/wasmhost"
)

// Remote is a Wasm partitioner downloaded from a streamd broker, running in this process.
type Remote struct {
	Partitioner
	// Version and SHA256 identify the module version that was downloaded.
	Version string
	SHA256  string

	rt *wasmhost.Runtime
}

// Close releases the plugin's runtime.
func (r *Remote) Close() error { return r.rt.Close(context.Background()) }

// FetchWasm downloads the current version of the partitioner plugin name from a streamd
// admin listener (GET {adminURL}/v1/plugins/{name}/module) and loads it in a runtime of
// its own configured by cfg (zero: the broker's defaults), so that a Go producer places
// records exactly as the broker does:
//
//	p, err := partitioner.FetchWasm(ctx, "http://127.0.0.1:9644", "tenant", wasmhost.Config{})
//	...
//	defer p.Close()
//	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(partitioner.NewKgo(p)))
//
// The module is the version current at download time: a producer picks up a newer
// version only by fetching again (partitioner.enforce on the topic rejects records placed
// by an outdated version).
func FetchWasm(ctx context.Context, adminURL, name string, cfg wasmhost.Config) (*Remote, error) {
	u := strings.TrimRight(adminURL, "/") + "/v1/plugins/" + url.PathEscape(name) + "/module"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("partitioner: plugin %s: %w", name, err)
	}
	tr := &http.Transport{DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("partitioner: downloading plugin %s from %s: %w", name, adminURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("partitioner: downloading plugin %s from %s: %w", name, adminURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, fmt.Errorf("partitioner: downloading plugin %s from %s: %s: %s", name, adminURL, resp.Status, msg)
	}
	if k := resp.Header.Get("Streamd-Plugin-Kind"); k != "" && k != wasmhost.KindPartitioner.String() {
		return nil, fmt.Errorf("partitioner: plugin %s is a %s, not a partitioner", name, k)
	}
	rt, err := wasmhost.NewRuntime(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p, err := rt.Load(ctx, name, body, wasmhost.KindPartitioner)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("partitioner: %w", err)
	}
	return &Remote{Partitioner: WasmPlugin(p), Version: resp.Header.Get("Streamd-Plugin-Version"),
		SHA256: resp.Header.Get("Streamd-Plugin-Sha256"), rt: rt}, nil
}
