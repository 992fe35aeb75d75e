// Package wasmbuild builds Go plugin sources (a main package that registers its function
// with plugins/sdk) into WebAssembly modules with the standard Go toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o OUT .
//
// run in the plugin's directory, so the plugin builds inside its own Go module (which
// must require github.com/streamd/streamd for the SDK). `streamd plugin build` and the
// tests use it; package wasmbuildtest caches builds for tests.
package wasmbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Env is what Build adds to the environment of the go command.
var Env = []string{"GOOS=wasip1", "GOARCH=wasm"}

// Args are the go command's arguments before "-o OUT".
var Args = []string{"build", "-buildmode=c-shared"}

// Build compiles the plugin in dir into the module file out (created or replaced). The
// compiler's output goes to log (nil: it is included in the error instead). Errors name
// what went wrong in one line when they can.
func Build(ctx context.Context, dir, out string, log io.Writer) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("wasmbuild: plugin directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("wasmbuild: %s is not a directory", dir)
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("wasmbuild: output: %w", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("wasmbuild: the go command is not on PATH (install Go 1.24 or newer to build plugins)")
	}
	cmd := exec.CommandContext(ctx, goBin, append(append([]string{}, Args...), "-o", absOut, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), Env...)
	var buf bytes.Buffer
	if log != nil {
		cmd.Stdout, cmd.Stderr = log, log
	} else {
		cmd.Stdout, cmd.Stderr = &buf, &buf
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("wasmbuild: go build of %s: %w", dir, ctx.Err())
		}
		msg := strings.TrimSpace(buf.String())
		if msg != "" {
			return fmt.Errorf("wasmbuild: go build of %s failed: %v: %s", dir, err, msg)
		}
		return fmt.Errorf("wasmbuild: go build of %s failed: %v (compiler output above)", dir, err)
	}
	return nil
}

// Supported reports whether the go toolchain on PATH can build GOOS=wasip1 GOARCH=wasm.
func Supported() error {
	out, err := exec.Command("go", "tool", "dist", "list").Output()
	if err != nil {
		return fmt.Errorf("wasmbuild: go tool dist list: %w", err)
	}
	if !bytes.Contains(out, []byte("wasip1/wasm")) {
		return errors.New("wasmbuild: this go toolchain cannot build GOOS=wasip1 GOARCH=wasm")
	}
	return nil
}
