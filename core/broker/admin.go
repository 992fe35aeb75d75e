package broker

import (
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
