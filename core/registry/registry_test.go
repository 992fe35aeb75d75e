package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/core/meta"
	"github.com/streamd/streamd/core/registry"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
	"github.com/streamd/streamd/core/wasmhost"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const guests = "../../plugins/testdata/"

// env is a registry on an embedded NATS server in dir, closed at cleanup (or by close).
type env struct {
	t     *testing.T
	dir   string
	store *meta.NATSStore
	reg   *registry.Registry
	users map[string][]string
	mu    sync.Mutex
	swaps []string
}

func open(t *testing.T, dir string, host wasmhost.Config) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := meta.Open(ctx, meta.Options{StoreDir: filepath.Join(dir, "nats"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, store: st, users: map[string][]string{}}
	// Compiling a Go guest takes seconds (more under -race); share compilations. Starting
	// an instance counts against the call timeout: be generous on a loaded machine.
	host.CacheDir = wasmbuildtest.CompileCache(t)
	if host.CallTimeout == 0 {
		host.CallTimeout = 30 * time.Second
	}
	e.reg, err = registry.Open(ctx, registry.Options{
		JetStream: st.JetStream(),
		Host:      host,
		Logger:    slog.New(slog.DiscardHandler),
		UsedBy: func() map[string][]string {
			e.mu.Lock()
			defer e.mu.Unlock()
			out := map[string][]string{}
			for k, v := range e.users {
				out[k] = append([]string{}, v...)
			}
			return out
		},
		OnSwap: func(name string, kind wasmhost.Kind) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.swaps = append(e.swaps, name+"/"+kind.String())
		},
	})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	_ = e.reg.Close(context.Background())
	_ = e.store.Close()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// fnv1a is the 32-bit FNV-1a hash the test plugins place keyed records by.
func fnv1a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

func recs(n int) []wasmhost.Record {
	out := make([]wasmhost.Record, n)
	for i := range out {
		out[i] = wasmhost.Record{Key: []byte(fmt.Sprintf("key-%d", i))}
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestPutGetListModuleDelete(t *testing.T) {
	mis := wasmbuildtest.Module(t, guests+"misbehave")
	e := open(t, t.TempDir(), wasmhost.Config{})
	info, created, err := e.reg.Put(ctx(t), "hash", wasmhost.KindPartitioner, mis)
	if err != nil || !created {
		t.Fatalf("put: %v %v", created, err)
	}
	if info.Name != "hash" || info.Kind != "partitioner" || info.Version != 1 || info.SHA256 != sha(mis) ||
		info.Size != int64(len(mis)) || time.Since(info.Uploaded) > time.Minute || len(info.UsedBy) != 0 {
		t.Fatalf("info %+v", info)
	}
	// Re-uploading the same bytes is not a new version.
	if again, created, err := e.reg.Put(ctx(t), "hash", wasmhost.KindPartitioner, mis); err != nil || created || again.Version != 1 {
		t.Fatalf("same module again: %+v %v %v", again, created, err)
	}
	// The same module as an assignor under another name.
	if _, _, err := e.reg.Put(ctx(t), "rr", wasmhost.KindAssignor, mis); err != nil {
		t.Fatal(err)
	}
	e.users["hash"] = []string{"topic orders"}
	list := e.reg.List()
	if len(list) != 2 || list[0].Name != "hash" || list[1].Name != "rr" || list[1].Kind != "assignor" ||
		fmt.Sprint(list[0].UsedBy) != "[topic orders]" {
		t.Fatalf("list %+v", list)
	}
	got, vi, err := e.reg.Module(ctx(t), "hash", 0)
	if err != nil || !bytes.Equal(got, mis) || vi.Version != 1 || vi.SHA256 != sha(mis) {
		t.Fatalf("module: %d bytes %+v %v", len(got), vi, err)
	}
	if _, _, err := e.reg.Module(ctx(t), "hash", 7); !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), "no stored version 7") {
		t.Fatalf("module v7: %v", err)
	}

	p, release, err := e.reg.Acquire("hash", wasmhost.KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := p.Partition(ctx(t), "orders", 7, recs(100))
	release()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs(100) {
		if parts[i] != int32(fnv1a(r.Key)%7) {
			t.Fatalf("record %d: partition %d, want %d", i, parts[i], fnv1a(r.Key)%7)
		}
	}
	if _, _, err := e.reg.Acquire("hash", wasmhost.KindAssignor); !errors.Is(err, registry.ErrKind) ||
		!strings.Contains(err.Error(), `plugin "hash" is a partitioner, not a assignor`) {
		t.Fatalf("acquire as assignor: %v", err)
	}
	if err := e.reg.Check("nope", wasmhost.KindPartitioner); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("check nope: %v", err)
	}

	err = e.reg.Delete(ctx(t), "hash")
	if !errors.Is(err, registry.ErrInUse) || !strings.Contains(err.Error(), `plugin "hash" is used by topic orders`) {
		t.Fatalf("delete in use: %v", err)
	}
	delete(e.users, "hash")
	if err := e.reg.Delete(ctx(t), "hash"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Get("hash"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := e.reg.Delete(ctx(t), "hash"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// A deleted name can be reused with another kind; versions start again.
	if info, _, err := e.reg.Put(ctx(t), "hash", wasmhost.KindAssignor, mis); err != nil || info.Version != 1 {
		t.Fatalf("reuse: %+v %v", info, err)
	}
}

func TestPutRejects(t *testing.T) {
	mis := wasmbuildtest.Module(t, guests+"misbehave")
	evil := wasmbuildtest.Module(t, guests+"evil")
	badabi := wasmbuildtest.Module(t, guests+"badabi")
	e := open(t, t.TempDir(), wasmhost.Config{MaxModuleBytes: 8 << 20})
	if _, _, err := e.reg.Put(ctx(t), "p", wasmhost.KindAssignor, badabi[:100]); err == nil {
		t.Fatal("truncated module accepted")
	}
	for _, tc := range []struct {
		name string
		kind wasmhost.Kind
		wasm []byte
		is   error
		msg  string
	}{
		{"bad/name", wasmhost.KindPartitioner, mis, registry.ErrBadRequest, `invalid plugin name "bad/name"`},
		{"p", wasmhost.Kind(9), mis, registry.ErrBadRequest, `unknown plugin kind "kind(9)"`},
		{"p", wasmhost.KindPartitioner, []byte("not wasm at all"), registry.ErrInvalid, "not a WebAssembly module"},
		{"p", wasmhost.KindPartitioner, []byte("\x00asm\x01\x00\x00\x00"), registry.ErrInvalid, `missing export "memory"`},
		{"p", wasmhost.KindPartitioner, evil, registry.ErrInvalid, "import env.open_socket is not allowed"},
		{"p", wasmhost.KindPartitioner, badabi, registry.ErrInvalid, "abi_version 99, host supports 2"},
		{"p", wasmhost.KindTransform, mis, registry.ErrInvalid, "module does not register a transform"},
		{"p", wasmhost.KindPartitioner, make([]byte, 8<<20+1), registry.ErrTooLarge, "8388609 bytes, the limit is 8388608"},
	} {
		_, _, err := e.reg.Put(ctx(t), tc.name, tc.kind, tc.wasm)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("put %s (%s, %d bytes): %v; want %v containing %q", tc.name, tc.kind, len(tc.wasm), err, tc.is, tc.msg)
		}
	}
	if len(e.reg.List()) != 0 {
		t.Fatalf("rejected modules listed: %+v", e.reg.List())
	}
	if _, _, err := e.reg.Put(ctx(t), "p", wasmhost.KindPartitioner, mis); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.reg.Put(ctx(t), "p", wasmhost.KindAssignor, mis)
	if !errors.Is(err, registry.ErrKind) || !strings.Contains(err.Error(), `plugin "p" is a partitioner; delete it before uploading a assignor`) {
		t.Fatalf("kind change: %v", err)
	}
}

// TestHotSwapInFlight: a call holding the old version finishes on it; the old version is
// closed when released; new calls get the new version at once.
func TestHotSwapInFlight(t *testing.T) {
	mis := wasmbuildtest.Module(t, guests+"misbehave")
	tenant := wasmbuildtest.Module(t, "../../plugins/examples/tenant")
	e := open(t, t.TempDir(), wasmhost.Config{})
	if _, _, err := e.reg.Put(ctx(t), "p", wasmhost.KindPartitioner, mis); err != nil {
		t.Fatal(err)
	}
	old, release, err := e.reg.Acquire("p", wasmhost.KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	info, created, err := e.reg.Put(ctx(t), "p", wasmhost.KindPartitioner, tenant)
	if err != nil || !created || info.Version != 2 || fmt.Sprint(info.Versions) != "[2 1]" {
		t.Fatalf("v2: %+v %v %v", info, created, err)
	}
	e.mu.Lock()
	swaps := fmt.Sprint(e.swaps)
	e.mu.Unlock()
	if swaps != "[p/partitioner]" {
		t.Fatalf("OnSwap calls %s", swaps)
	}
	// The in-flight holder still runs version 1 (FNV).
	r := []wasmhost.Record{{Key: []byte("eu:alice")}}
	if got, err := old.Partition(ctx(t), "orders", 16, r); err != nil || got[0] != int32(fnv1a(r[0].Key)%16) {
		t.Fatalf("old version after swap: %v %v", got, err)
	}
	// New callers get version 2 (eu: → partitions 0-7 of 16 in the example's table).
	cur, rel2, err := e.reg.Acquire("p", wasmhost.KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cur.Partition(ctx(t), "orders", 16, r)
	rel2()
	if err != nil || cur == old {
		t.Fatalf("new version: %v %v", got, err)
	}
	release()
	release() // idempotent
	if _, err := old.Partition(ctx(t), "orders", 16, r); !errors.Is(err, wasmhost.ErrClosed) {
		t.Fatalf("old version after its last release: %v, want ErrClosed", err)
	}
}

// TestVersionsPruned uploads alternating modules and checks only the newest
// KeepVersions stay downloadable.
func TestVersionsPruned(t *testing.T) {
	mis := wasmbuildtest.Module(t, guests+"misbehave")
	tenant := wasmbuildtest.Module(t, "../../plugins/examples/tenant")
	e := open(t, t.TempDir(), wasmhost.Config{})
	mods := [][]byte{mis, tenant}
	for i := 0; i < registry.KeepVersions+2; i++ {
		if _, _, err := e.reg.Put(ctx(t), "p", wasmhost.KindPartitioner, mods[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	info, _ := e.reg.Get("p")
	if info.Version != registry.KeepVersions+2 || len(info.Versions) != registry.KeepVersions || info.Versions[0] != info.Version {
		t.Fatalf("info %+v", info)
	}
	if _, _, err := e.reg.Module(ctx(t), "p", 1); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("pruned version 1: %v", err)
	}
	b, vi, err := e.reg.Module(ctx(t), "p", info.Versions[len(info.Versions)-1])
	if err != nil || vi.Version != info.Versions[len(info.Versions)-1] || vi.SHA256 != sha(b) {
		t.Fatalf("oldest kept: %+v %v", vi, err)
	}
}

// TestRestart: plugins survive closing the registry and its NATS server; a module that no
// longer fits the limits is reported and fails its users, and a new upload fixes it.
func TestRestart(t *testing.T) {
	mis := wasmbuildtest.Module(t, guests+"misbehave")
	dir := t.TempDir()
	e := open(t, dir, wasmhost.Config{})
	if _, _, err := e.reg.Put(ctx(t), "hash", wasmhost.KindPartitioner, mis); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.reg.Put(ctx(t), "rr", wasmhost.KindAssignor, mis); err != nil {
		t.Fatal(err)
	}
	e.close()

	e = open(t, dir, wasmhost.Config{})
	list := e.reg.List()
	if len(list) != 2 || list[0].Name != "hash" || list[0].Kind != "partitioner" || list[0].SHA256 != sha(mis) || list[0].Error != "" {
		t.Fatalf("after restart: %+v", list)
	}
	p, release, err := e.reg.Acquire("hash", wasmhost.KindPartitioner)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Partition(ctx(t), "t", 3, recs(1))
	release()
	if err != nil || got[0] != int32(fnv1a([]byte("key-0"))%3) {
		t.Fatalf("partition after restart: %v %v", got, err)
	}
	e.close()

	// Limits lowered below what the module needs to start.
	e = open(t, dir, wasmhost.Config{MaxModuleBytes: 1 << 20})
	info, err := e.reg.Get("hash")
	if err != nil || !strings.Contains(info.Error, "1048576") {
		t.Fatalf("broken plugin info: %+v %v", info, err)
	}
	if _, _, err := e.reg.Acquire("hash", wasmhost.KindPartitioner); !errors.Is(err, registry.ErrBroken) {
		t.Fatalf("acquire broken: %v", err)
	}
}
