//go:build !wasip1

package assignor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/assignor"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
	"github.com/streamd/streamd/core/wasmhost"
)

type source map[string]*wasmhost.Plugin

func (s source) Acquire(name string, kind wasmhost.Kind) (*wasmhost.Plugin, func(), error) {
	p := s[name]
	if p == nil || p.Kind() != kind {
		return nil, nil, fmt.Errorf("no %s %q", kind, name)
	}
	return p, func() {}, nil
}

func load(t *testing.T, rt *wasmhost.Runtime, name, dir string) *wasmhost.Plugin {
	t.Helper()
	p, err := rt.Load(context.Background(), name, wasmbuildtest.Module(t, dir), wasmhost.KindAssignor)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWasmAssignor(t *testing.T) {
	rt, err := wasmhost.NewRuntime(context.Background(), wasmhost.Config{CacheDir: wasmbuildtest.CompileCache(t), CallTimeout: 30 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	src := source{
		"weighted": load(t, rt, "weighted", "../plugins/examples/weighted"),
		"mis":      load(t, rt, "mis", "../plugins/testdata/misbehave"),
	}
	hex := strings.Repeat("f", 32)
	spec := assignor.GroupSpec{
		Group: "orders-app",
		Members: []assignor.Member{
			{ID: "small-" + hex, Topics: []string{"b", "a"}, Owned: []assignor.TopicPartition{{Topic: "a", Partition: 7}}},
			{ID: "big-w3-" + hex, Topics: []string{"a", "gone"}},
		},
		Partitions: map[string]int32{"a": 8, "b": 3, "gone": 0},
	}
	w := assignor.Wasm("weighted", src)
	if w.Name() != "wasm:weighted" {
		t.Fatal(w.Name())
	}
	a, err := w.Assign(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := assignor.Validate(spec, a); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if got, want := fmt.Sprint(a), "map[big-w3-"+hex+":[{a 0} {a 1} {a 2} {a 3} {a 4} {a 5}] small-"+hex+":[{a 6} {a 7} {b 0} {b 1} {b 2}]]"; got != want {
		t.Fatalf("assignment\n%s\nwant\n%s", got, want)
	}

	// Misbehaving plugins: an error naming the plugin, or an assignment Validate refuses.
	for _, tc := range []struct{ group, msg string }{
		{"fail-1", `assignor: wasm:mis: wasmhost: plugin "mis": assign: guest returned an error: misbehave: refusing to assign group fail-1`},
		{"panic-1", "guest panicked: misbehave: panic on purpose"},
		{"dup-1", "partition 0 given to"}, // the SDK refuses a partition given twice
	} {
		spec.Group = tc.group
		if _, err := assignor.Wasm("mis", src).Assign(spec); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("group %s: %v, want %q", tc.group, err, tc.msg)
		}
	}
	spec.Group = "invalid-1"
	a, err = assignor.Wasm("mis", src).Assign(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := assignor.Validate(spec, a); !errors.Is(err, assignor.ErrUnassigned) {
		t.Fatalf("empty plan: Validate = %v", err)
	}
	if len(a) != 2 {
		t.Fatalf("every member gets an entry: %v", a)
	}
	if _, err := assignor.Wasm("nope", src).Assign(spec); err == nil || !strings.Contains(err.Error(), `assignor: wasm:nope: no assignor "nope"`) {
		t.Fatalf("unknown plugin: %v", err)
	}
}
