//go:build !wasip1

// The Wasm adapter runs on the host only: a plugin built for wasip1 may import this
// package for its pure strategies without pulling in the host runtime.

package partitioner

import (
	"context"
	"fmt"

	"github.com/streamd/streamd/core/wasmhost"
)

// PluginPrefix starts the name of a Wasm partitioner: "wasm:NAME".
const PluginPrefix = wasmhost.PluginPrefix

// PluginSource hands out the current version of an uploaded plugin (wasmhost.Source).
type PluginSource = wasmhost.Source

type wasmPartitioner struct {
	name string // plugin name
	src  PluginSource
}

// Wasm returns the strategy "wasm:NAME": every Partition call is one batch call into the
// current version of the uploaded partitioner plugin NAME (split into calls of at most
// 8192 records or 1 MiB of record data, so big batches fit the guest's memory). Failures (unknown plugin,
// trap, timeout, out-of-range result, ...) are returned as errors naming the plugin; the
// partitioner stays usable.
func Wasm(name string, src PluginSource) Partitioner { return &wasmPartitioner{name: name, src: src} }

// WasmPlugin returns a "wasm:NAME" strategy over one loaded plugin (for a client that
// downloaded the module; NAME is p.Name()).
func WasmPlugin(p *wasmhost.Plugin) Partitioner {
	return &wasmPartitioner{name: p.Name(), src: fixed{p}}
}

type fixed struct{ p *wasmhost.Plugin }

func (f fixed) Acquire(string, wasmhost.Kind) (*wasmhost.Plugin, func(), error) {
	return f.p, func() {}, nil
}

func (w *wasmPartitioner) Name() string { return PluginPrefix + w.name }

// Deterministic: the plugin must place every record by its content.
func (*wasmPartitioner) Deterministic(Record) bool { return true }

func (w *wasmPartitioner) Partition(topic string, n int32, recs []Record, out []int32) error {
	if err := check(n, recs, out); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	p, release, err := w.src.Acquire(w.name, wasmhost.KindPartitioner)
	if err != nil {
		return fmt.Errorf("partitioner: %s%s: %w", PluginPrefix, w.name, err)
	}
	defer release()
	nh := 0
	for i := range recs {
		nh += len(recs[i].Headers)
	}
	in := make([]wasmhost.Record, len(recs))
	hs := make([]wasmhost.Header, 0, nh)
	for i := range recs {
		r := &recs[i]
		in[i] = wasmhost.Record{Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
		if len(r.Headers) > 0 {
			start := len(hs)
			for _, h := range r.Headers {
				hs = append(hs, wasmhost.Header{Key: h.Key, Value: h.Value})
			}
			in[i].Headers = hs[start:len(hs):len(hs)]
		}
	}
	// One call per chunk keeps the guest's input within its memory limit for big batches.
	for start := 0; start < len(in); {
		end, size := start, 0
		for end < len(in) && end-start < maxChunkRecords && (end == start || size < maxChunkBytes) {
			r := &in[end]
			size += 32 + len(r.Key) + len(r.Value)
			for _, h := range r.Headers {
				size += 8 + len(h.Key) + len(h.Value)
			}
			end++
		}
		if err := p.PartitionInto(context.Background(), topic, n, in[start:end], out[start:end]); err != nil {
			return fmt.Errorf("partitioner: %s%s: %w", PluginPrefix, w.name, err)
		}
		start = end
	}
	return nil
}

// A Wasm partitioner is called with at most maxChunkRecords records or (after the first
// record) maxChunkBytes of record data per call.
const (
	maxChunkRecords = 8192
	maxChunkBytes   = 1 << 20
)
