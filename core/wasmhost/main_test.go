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

// shared holds what is built once per test run: the test plugin and a compilation cache
// directory, so that each test's Load takes milliseconds instead of ~0.5 s.
var shared struct {
	dir      string
	once     sync.Once
	multi    []byte
	buildErr error
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

// multiWasm builds testdata/multi with the standard toolchain (once per run).
func multiWasm(tb testing.TB) []byte {
	tb.Helper()
	shared.once.Do(func() {
		if out, err := exec.Command("go", "tool", "dist", "list").Output(); err != nil || !strings.Contains(string(out), "wasip1/wasm") {
			shared.buildErr = fmt.Errorf("skip: this go toolchain cannot build GOOS=wasip1 GOARCH=wasm (%v)", err)
			return
		}
		out := filepath.Join(shared.dir, "multi.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/multi")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			shared.buildErr = fmt.Errorf("building testdata/multi: %v\n%s", err, msg)
			return
		}
		shared.multi, shared.buildErr = os.ReadFile(out)
	})
	if shared.buildErr != nil {
		if strings.HasPrefix(shared.buildErr.Error(), "skip:") {
			tb.Skip(shared.buildErr)
		}
		tb.Fatal(shared.buildErr)
	}
	return shared.multi
}

// newRuntime returns a runtime closed at cleanup, using the shared compilation cache
// unless cfg names another.
func newRuntime(tb testing.TB, cfg Config) *Runtime {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(shared.dir, "cache")
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
