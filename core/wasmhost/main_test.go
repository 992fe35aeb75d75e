package wasmhost

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// shared holds what is built once per test run: the test plugins and a compilation cache
// directory, so that each test's Load takes milliseconds instead of ~0.5 s.
var shared struct {
	dir     string
	mu      sync.Mutex
	plugins map[string][]byte
	errs    map[string]error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// BuildPlugin builds testdata/NAME with the standard toolchain (once per run) and returns
// the module. It is exported for the benchmarks of package wasmhost_test.
func BuildPlugin(tb testing.TB, name string) []byte {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.plugins == nil {
		shared.plugins, shared.errs = map[string][]byte{}, map[string]error{}
	}
	if _, done := shared.plugins[name]; !done && shared.errs[name] == nil {
		shared.plugins[name], shared.errs[name] = buildTestdata(name)
	}
	if err := shared.errs[name]; err != nil {
		if strings.HasPrefix(err.Error(), "skip:") {
			tb.Skip(err)
		}
		tb.Fatal(err)
	}
	return shared.plugins[name]
}

func buildTestdata(name string) ([]byte, error) {
	if out, err := exec.Command("go", "tool", "dist", "list").Output(); err != nil || !strings.Contains(string(out), "wasip1/wasm") {
		return nil, fmt.Errorf("skip: this go toolchain cannot build GOOS=wasip1 GOARCH=wasm (%v)", err)
	}
	out := filepath.Join(shared.dir, name+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/"+name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building testdata/%s: %v\n%s", name, err, msg)
	}
	return os.ReadFile(out)
}

// SharedCacheDir is the compilation cache shared by the tests of one run.
func SharedCacheDir() string { return filepath.Join(shared.dir, "cache") }

func multiWasm(tb testing.TB) []byte { return BuildPlugin(tb, "multi") }

// newRuntime returns a runtime closed at cleanup, using the shared compilation cache
// unless cfg names another.
func newRuntime(tb testing.TB, cfg Config) *Runtime {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = SharedCacheDir()
	}
	r, err := NewRuntime(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func load(tb testing.TB, cfg Config, kind Kind) *Plugin {
	tb.Helper()
	wasm := multiWasm(tb)
	p, err := newRuntime(tb, cfg).Load(context.Background(), "multi", wasm, kind)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
