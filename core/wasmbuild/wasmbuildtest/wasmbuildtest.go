// Package wasmbuildtest builds Go plugin sources for tests, once: a module is cached in
// $TMPDIR/streamd-wasm-cache under a hash of its sources, the SDK's sources, go.mod and
// the toolchain version, so that test packages and later runs share builds (a build takes
// seconds; a cache hit milliseconds). Concurrent builds of the same sources (test
// packages run in parallel) wait for each other through a lock file.
package wasmbuildtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/core/wasmbuild"
)

var (
	mu      sync.Mutex
	memo    = map[string][]byte{}
	support error
	checked bool
)

// CompileCache is a wazero compilation cache directory shared by every test package and
// run ($TMPDIR/streamd-wasm-cache/wazero): compiling a Go guest takes seconds (tens of
// seconds under -race on a loaded machine), loading it from the cache milliseconds.
// wazero writes cache entries atomically, so processes may share it.
func CompileCache(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), "streamd-wasm-cache", "wazero")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// LinkCompileCache makes dataDir/plugin-cache (where a broker keeps compiled plugins) a
// link to CompileCache, so test brokers share compilations.
func LinkCompileCache(tb testing.TB, dataDir string) {
	tb.Helper()
	link := filepath.Join(dataDir, "plugin-cache")
	if _, err := os.Lstat(link); err == nil {
		return
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(CompileCache(tb), link); err != nil {
		tb.Fatal(err)
	}
}

// ShareCLICache points $XDG_CACHE_HOME (for the rest of the test) at a directory whose
// streamd/plugin-cache, where streamd's CLI keeps compiled plugins, is CompileCache.
func ShareCLICache(tb testing.TB) {
	tb.Helper()
	xdg := tb.TempDir()
	if err := os.MkdirAll(filepath.Join(xdg, "streamd"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(CompileCache(tb), filepath.Join(xdg, "streamd", "plugin-cache")); err != nil {
		tb.Fatal(err)
	}
	if t, ok := tb.(interface{ Setenv(string, string) }); ok {
		t.Setenv("XDG_CACHE_HOME", xdg)
	}
}

// Module returns the module built from the plugin in dir (relative to the test's working
// directory or absolute). It skips the test when the toolchain cannot build wasip1 and
// fails it when the build fails.
func Module(tb testing.TB, dir string) []byte {
	tb.Helper()
	b, err := build(dir)
	if err != nil {
		if strings.HasPrefix(err.Error(), "skip: ") {
			tb.Skip(err)
		}
		tb.Fatal(err)
	}
	return b
}

// Path is Module written to a file in tb's temporary directory; it returns the file.
func Path(tb testing.TB, dir string) string {
	tb.Helper()
	b := Module(tb, dir)
	p := filepath.Join(tb.TempDir(), filepath.Base(dir)+".wasm")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func build(dir string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := memo[abs]; ok {
		return b, nil
	}
	if !checked {
		checked, support = true, wasmbuild.Supported()
	}
	if support != nil {
		return nil, fmt.Errorf("skip: %v", support)
	}
	key, err := sourceKey(abs)
	if err != nil {
		return nil, err
	}
	cache := filepath.Join(os.TempDir(), "streamd-wasm-cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(cache, filepath.Base(abs)+"-"+key+".wasm")
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return nil, err
	}
	defer unlockFile(lock)
	b, err := os.ReadFile(out)
	if err != nil {
		tmp := out + ".tmp"
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := wasmbuild.Build(ctx, abs, tmp, nil); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, out); err != nil {
			return nil, err
		}
		if b, err = os.ReadFile(out); err != nil {
			return nil, err
		}
	}
	memo[abs] = b
	return b, nil
}

// sourceKey hashes the plugin's Go files, the SDK's, the module's go.mod/go.sum and the
// toolchain version.
func sourceKey(dir string) (string, error) {
	root := dir
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", fmt.Errorf("wasmbuildtest: no go.mod above %s", dir)
		}
		root = parent
	}
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	var files []string
	for _, d := range []string{dir, filepath.Join(root, "plugins", "sdk")} {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && p != d {
				return filepath.SkipDir
			}
			if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
	}
	sort.Strings(files)
	files = append(files, filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
