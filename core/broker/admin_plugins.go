package broker

// Admin HTTP API of the plugin registry (core/registry):
//
//	POST   /v1/plugins/{name}?kind=partitioner|assignor|transform   body: the module bytes
//	       201 {plugin info} a new version; 200 {plugin info} the module already is the
//	       current version
//	GET    /v1/plugins                      200 {"plugins": [{plugin info}, ...]}
//	GET    /v1/plugins/{name}               200 {plugin info}
//	GET    /v1/plugins/{name}/module[?version=N]
//	       200 the module bytes (application/wasm; headers Streamd-Plugin-Version and
//	       Streamd-Plugin-Sha256), for clients that partition like the broker
//	DELETE /v1/plugins/{name}               200 {"deleted": name}
//
// plugin info: {"name", "kind", "version", "sha256" (hex), "size", "uploaded_at",
// "versions" (stored, newest first), "used_by" (["topic T", "group G"]), "error" (only
// when the stored module failed to load at start)}.
//
// Errors answer {"error": "..."}: 400 bad name, unknown or missing kind, bad version;
// 404 unknown plugin or version; 409 a delete while in use, or an upload of another kind
// under an existing name; 413 a module over [plugins] max_module_bytes; 422 a module the
// host rejects (not Wasm, missing exports, wrong ABI version, forbidden imports, does not
// start); 503 no registry (metadata store without JetStream) or shutting down; 500 an
// object store failure.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/streamd/streamd/core/registry"
)

func (b *Broker) registerPluginRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/plugins", b.handleListPlugins)
	mux.HandleFunc("POST /v1/plugins/{name}", b.handleUploadPlugin)
	mux.HandleFunc("GET /v1/plugins/{name}", b.handleDescribePlugin)
	mux.HandleFunc("GET /v1/plugins/{name}/module", b.handleDownloadPlugin)
	mux.HandleFunc("DELETE /v1/plugins/{name}", b.handleDeletePlugin)
}

// pluginsReady answers 503 and returns false when plugins cannot be served.
func (b *Broker) pluginsReady(w http.ResponseWriter) bool {
	if !b.adminOpen(w) {
		return false
	}
	if b.plugins == nil {
		adminError(w, http.StatusServiceUnavailable, errNoPlugins.Error())
		return false
	}
	return true
}

// pluginError answers a registry error with its status.
func pluginError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, registry.ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, registry.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, registry.ErrInUse), errors.Is(err, registry.ErrKind):
		code = http.StatusConflict
	case errors.Is(err, registry.ErrTooLarge):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, registry.ErrInvalid):
		code = http.StatusUnprocessableEntity
	case errors.Is(err, registry.ErrClosed):
		code = http.StatusServiceUnavailable
	}
	adminError(w, code, strings.TrimPrefix(err.Error(), "registry: "))
}

func (b *Broker) handleUploadPlugin(w http.ResponseWriter, r *http.Request) {
	if !b.pluginsReady(w) {
		return
	}
	kindName := r.URL.Query().Get("kind")
	if kindName == "" {
		adminError(w, http.StatusBadRequest, "missing ?kind=partitioner|assignor|transform")
		return
	}
	kind, err := registry.ParseKind(kindName)
	if err != nil {
		pluginError(w, err)
		return
	}
	limit := b.cfg.Plugins.MaxModuleBytes
	wasm, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		adminError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("module too large: more than %d bytes ([plugins] max_module_bytes)", limit))
		return
	case err != nil:
		adminError(w, http.StatusBadRequest, "reading the module: "+err.Error())
		return
	case len(wasm) == 0:
		adminError(w, http.StatusBadRequest, "empty body: POST the module bytes")
		return
	}
	info, created, err := b.plugins.Put(r.Context(), r.PathValue("name"), kind, wasm)
	if err != nil {
		pluginError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	adminJSON(w, status, info)
}

func (b *Broker) handleListPlugins(w http.ResponseWriter, _ *http.Request) {
	if !b.pluginsReady(w) {
		return
	}
	adminJSON(w, http.StatusOK, map[string][]registry.Info{"plugins": b.plugins.List()})
}

func (b *Broker) handleDescribePlugin(w http.ResponseWriter, r *http.Request) {
	if !b.pluginsReady(w) {
		return
	}
	info, err := b.plugins.Get(r.PathValue("name"))
	if err != nil {
		pluginError(w, err)
		return
	}
	adminJSON(w, http.StatusOK, info)
}

func (b *Broker) handleDownloadPlugin(w http.ResponseWriter, r *http.Request) {
	if !b.pluginsReady(w) {
		return
	}
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("bad version %q: want a number >= 1", v))
			return
		}
		version = n
	}
	wasm, info, err := b.plugins.Module(r.Context(), r.PathValue("name"), version)
	if err != nil {
		pluginError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Set("Streamd-Plugin-Version", strconv.Itoa(info.Version))
	w.Header().Set("Streamd-Plugin-Kind", info.Kind)
	w.Header().Set("Streamd-Plugin-Sha256", info.SHA256)
	w.Header().Set("Content-Length", strconv.Itoa(len(wasm)))
	_, _ = w.Write(wasm)
}

func (b *Broker) handleDeletePlugin(w http.ResponseWriter, r *http.Request) {
	if !b.pluginsReady(w) {
		return
	}
	name := r.PathValue("name")
	if err := b.plugins.Delete(r.Context(), name); err != nil {
		pluginError(w, err)
		return
	}
	adminJSON(w, http.StatusOK, map[string]string{"deleted": name})
}
