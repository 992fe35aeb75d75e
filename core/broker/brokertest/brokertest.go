// Package brokertest starts real in-process streamd brokers for tests: listening on
// 127.0.0.1:0 with a temporary data dir and an embedded NATS metadata store, stopped by
// t.Cleanup.
package brokertest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/streamd/streamd/core/broker"
	"github.com/streamd/streamd/core/config"
)

// Option changes the test broker's config before it starts.
type Option func(*config.Config)

// WithConfig applies fn to the config.
func WithConfig(fn func(*config.Config)) Option { return Option(fn) }

// WithDataDir uses dir instead of a fresh temporary directory (for restart tests).
func WithDataDir(dir string) Option {
	return func(c *config.Config) { c.LogDirs = dir }
}

// Start starts a broker and returns its Kafka address.
func Start(t testing.TB, opts ...Option) string {
	t.Helper()
	return StartBroker(t, opts...).Addr()
}

// StartBroker starts a broker and returns it; t.Cleanup shuts it down (idempotent, so a
// test may shut it down itself first).
func StartBroker(t testing.TB, opts ...Option) *broker.Broker {
	t.Helper()
	cfg := config.Default()
	cfg.LogDirs = t.TempDir()
	cfg.Listeners = "127.0.0.1:0"
	cfg.AdvertisedListeners = ""
	cfg.Admin.Listen = "127.0.0.1:0"
	for _, o := range opts {
		o(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("STREAMD_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := broker.New(cfg, broker.Options{Logger: logger})
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("brokertest: start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("brokertest: shutdown: %v", err)
		}
	})
	return b
}
