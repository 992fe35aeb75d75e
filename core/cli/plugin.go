package cli

// Wasm plugin commands ("streamd plugin ..."), against a streamd admin listener's plugin
// API (core/broker/admin_plugins.go). Output formats:
//
// "plugin upload" prints "Uploaded partitioner "tenant" version 2 (sha256 9f2c…, 2.5 MiB)."
// or "... is already version 2" when the module did not change.
// "plugin list" prints a table NAME, KIND, VERSION, SHA256 (first 12 hex digits), SIZE,
// USED-BY (comma-separated "topic T" / "group G", "-" when unused).
// "plugin describe" prints Name:, Kind:, Version:, Versions: (stored, newest first),
// SHA256:, Size:, Uploaded: (RFC 3339), Used by: and, if the stored module failed to load
// at start, Error: lines.
// "plugin build" runs GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared in the
// plugin's directory and prints "Built FILE (N bytes)."

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamd/streamd/core/wasmbuild"
)

// PluginInfo is a plugin as the admin API describes it.
type PluginInfo struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Version  int       `json:"version"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	Uploaded time.Time `json:"uploaded_at"`
	Versions []int     `json:"versions"`
	UsedBy   []string  `json:"used_by"`
	Error    string    `json:"error"`
}

// adminCall sends one request to a streamd admin listener and decodes a JSON answer
// into out (if not nil). A non-2xx answer becomes an error carrying the broker's message.
func adminCall(ctx context.Context, env Env, adminURL, method, path string, body io.Reader, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, env.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(adminURL, "/")+path, body)
	if err != nil {
		return 0, fmt.Errorf("admin endpoint %s: %v", adminURL, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/wasm")
	}
	resp, data, err := adminSend(req, 64<<20)
	switch {
	case resp == nil: // no answer
		if ctxErr := env.ctxError(ctx); ctxErr != nil {
			return 0, fmt.Errorf("admin endpoint %s: %v", adminURL, ctxErr)
		}
		return 0, fmt.Errorf("admin endpoint %s: %v (see --admin)", adminURL, err)
	case err != nil:
		return resp.StatusCode, fmt.Errorf("admin endpoint %s: %v", adminURL, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return resp.StatusCode, errors.New(e.Error)
		}
		return resp.StatusCode, fmt.Errorf("admin endpoint %s: %s", adminURL, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("admin endpoint %s: unexpected answer: %v", adminURL, err)
		}
	}
	return resp.StatusCode, nil
}

// UploadPlugin uploads the module in file as plugin name of the given kind.
func UploadPlugin(ctx context.Context, env Env, adminURL, name, file, kind string) error {
	switch kind {
	case "partitioner", "assignor", "transform":
	case "":
		return errors.New("plugin upload: --kind is required: partitioner, assignor or transform")
	default:
		return fmt.Errorf("plugin upload: bad --kind %q: want partitioner, assignor or transform", kind)
	}
	wasm, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("plugin upload: %v", err)
	}
	var info PluginInfo
	code, err := adminCall(ctx, env, adminURL, http.MethodPost, "/v1/plugins/"+url.PathEscape(name)+"?kind="+url.QueryEscape(kind), bytes.NewReader(wasm), &info)
	if err != nil {
		return fmt.Errorf("plugin upload %s: %v", name, err)
	}
	if code == http.StatusOK {
		fmt.Fprintf(env.Stdout, "%s %q is already version %d (sha256 %s).\n", capitalize(info.Kind), info.Name, info.Version, shortSHA(info.SHA256))
		return nil
	}
	fmt.Fprintf(env.Stdout, "Uploaded %s %q version %d (sha256 %s, %s).\n", info.Kind, info.Name, info.Version, shortSHA(info.SHA256), humanBytes(info.Size))
	return nil
}

// ListPlugins prints every uploaded plugin.
func ListPlugins(ctx context.Context, env Env, adminURL string) error {
	var out struct {
		Plugins []PluginInfo `json:"plugins"`
	}
	if _, err := adminCall(ctx, env, adminURL, http.MethodGet, "/v1/plugins", nil, &out); err != nil {
		return fmt.Errorf("plugin list: %v", err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tSHA256\tSIZE\tUSED-BY")
	for _, p := range out.Plugins {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", p.Name, p.Kind, p.Version, shortSHA(p.SHA256), humanBytes(p.Size), dash(strings.Join(p.UsedBy, ", ")))
	}
	return tw.Flush()
}

// DescribePlugin prints one plugin.
func DescribePlugin(ctx context.Context, env Env, adminURL, name string) error {
	var p PluginInfo
	if _, err := adminCall(ctx, env, adminURL, http.MethodGet, "/v1/plugins/"+url.PathEscape(name), nil, &p); err != nil {
		return fmt.Errorf("plugin describe %s: %v", name, err)
	}
	w := env.Stdout
	versions := make([]string, len(p.Versions))
	for i, v := range p.Versions {
		versions[i] = fmt.Sprint(v)
	}
	fmt.Fprintf(w, "Name:      %s\n", p.Name)
	fmt.Fprintf(w, "Kind:      %s\n", p.Kind)
	fmt.Fprintf(w, "Version:   %d\n", p.Version)
	fmt.Fprintf(w, "Versions:  %s\n", strings.Join(versions, ", "))
	fmt.Fprintf(w, "SHA256:    %s\n", p.SHA256)
	fmt.Fprintf(w, "Size:      %d bytes\n", p.Size)
	fmt.Fprintf(w, "Uploaded:  %s\n", p.Uploaded.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Used by:   %s\n", dash(strings.Join(p.UsedBy, ", ")))
	if p.Error != "" {
		fmt.Fprintf(w, "Error:     %s\n", p.Error)
	}
	return nil
}

// DeletePlugin deletes a plugin that nothing uses.
func DeletePlugin(ctx context.Context, env Env, adminURL, name string) error {
	if _, err := adminCall(ctx, env, adminURL, http.MethodDelete, "/v1/plugins/"+url.PathEscape(name), nil, nil); err != nil {
		return fmt.Errorf("plugin delete %s: %v", name, err)
	}
	fmt.Fprintf(env.Stdout, "Deleted plugin %q.\n", name)
	return nil
}

// BuildPlugin builds the Go plugin in dir into the module file out; compiler errors are
// part of the (one-line) error.
func BuildPlugin(ctx context.Context, env Env, dir, out string) error {
	if out == "" {
		return errors.New("plugin build: -o FILE.wasm is required")
	}
	if err := wasmbuild.Build(ctx, dir, out, nil); err != nil {
		return fmt.Errorf("plugin build: %s", strings.TrimPrefix(err.Error(), "wasmbuild: "))
	}
	st, err := os.Stat(out)
	if err != nil {
		return fmt.Errorf("plugin build: %v", err)
	}
	fmt.Fprintf(env.Stdout, "Built %s (%d bytes).\n", out, st.Size())
	return nil
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return dash(s)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// humanBytes renders a size as B, KiB or MiB with one decimal.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
