package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamd/streamd/core/broker"
	"github.com/streamd/streamd/core/config"
)

func newServeCmd() *cobra.Command {
	var (
		cfgPath, listen, dataDir, adminListen, logLevel, logFormat string
		shutdownTimeout                                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker (embedded NATS metadata store unless [metadata] nats_url is set)",
		Long: `Run the broker. Settings come from --config (default ./config.toml if present,
else built-in defaults); --listen, --data-dir and --admin-listen override the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, used, err := config.LoadDefaultOrFile(cfgPath)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("listen") {
				cfg.Listeners = listen
			}
			if cmd.Flags().Changed("data-dir") {
				cfg.LogDirs = dataDir
			}
			if cmd.Flags().Changed("admin-listen") {
				cfg.Admin.Listen = adminListen
			}
			logger, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			if used != "" {
				logger.Info("configuration loaded", "file", used)
			} else {
				logger.Info("no config file: using built-in defaults")
			}
			b, err := broker.New(cfg, broker.Options{Logger: logger})
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			if err := b.Start(startCtx); err != nil {
				return err
			}
			<-ctx.Done()
			logger.Info("shutting down", "timeout", shutdownTimeout)
			sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer scancel()
			return b.Shutdown(sctx)
		},
	}
	// --brokers is a client flag: keep it out of serve's help.
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		if fl := c.Root().PersistentFlags().Lookup("brokers"); fl != nil {
			fl.Hidden = true
		}
		c.Root().HelpFunc()(c, args)
	})
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "config file (default ./config.toml if present)")
	f.StringVar(&listen, "listen", "", "Kafka listener HOST:PORT (overrides listeners)")
	f.StringVar(&dataDir, "data-dir", "", "data directory (overrides log.dirs)")
	f.StringVar(&adminListen, "admin-listen", "", "admin HTTP listener HOST:PORT, empty to disable (overrides [admin] listen)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.DurationVar(&shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGINT/SIGTERM waits for in-flight requests")
	return cmd
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
