package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startAdmin starts the admin HTTP listener (admin.listen): /metrics, /health, the topic
// and group views, HTTP produce (admin_produce.go) and the plugin API (admin_plugins.go).
// An empty admin.listen disables it.
func (b *Broker) startAdmin() error {
	addr := b.cfg.Admin.Listen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("broker: admin listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		if b.checkOpen() != nil {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /v1/topics/{name}", b.handleAdminTopic)
	mux.HandleFunc("POST /v1/topics/{name}/records", b.handleProduceRecords)
	mux.HandleFunc("GET /v1/groups/{name}", b.handleAdminGroup)
	b.registerPluginRoutes(mux)
	// Profiling for operators (the admin listener binds to loopback by default).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	b.adminLn = ln
	b.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		if err := b.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error("admin listener stopped", "err", err)
		}
	}()
	return nil
}

// adminJSON answers code with v as JSON.
func adminJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// adminError answers code with {"error": msg}.
func adminError(w http.ResponseWriter, code int, msg string) {
	adminJSON(w, code, map[string]string{"error": msg})
}

// adminOpen answers 503 and returns false once the broker is shutting down.
func (b *Broker) adminOpen(w http.ResponseWriter) bool {
	if b.checkOpen() != nil {
		adminError(w, http.StatusServiceUnavailable, "broker is shutting down")
		return false
	}
	return true
}

// topicOr404 returns the topic name, or answers 404 and returns nil.
func (b *Broker) topicOr404(w http.ResponseWriter, name string) *topic {
	t := b.lookup(name)
	if t == nil {
		adminError(w, http.StatusNotFound, "topic "+name+" does not exist")
	}
	return t
}
