package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedReadyTimeout bounds how long Open waits for the embedded server to start.
const embeddedReadyTimeout = 10 * time.Second

// startEmbedded starts a single JetStream-enabled nats-server storing under storeDir.
// With listen == "" it opens no TCP listener at all; clients connect in-process.
func startEmbedded(storeDir, listen string, log *slog.Logger) (*server.Server, error) {
	if storeDir == "" {
		return nil, errors.New("meta: Options.StoreDir is required for the embedded NATS server")
	}
	opts := &server.Options{
		ServerName: "streamd-meta",
		JetStream:  true,
		StoreDir:   storeDir,
		// Metadata writes are rare and must survive power loss like acknowledged records.
		SyncAlways: true,
		NoSigs:     true, // the broker owns signal handling
		NoLog:      true, // logging goes through SetLoggerV2 below
		DontListen: listen == "",
	}
	if listen != "" {
		host, portStr, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("meta: Options.ListenEmbedded %q: want host:port: %w", listen, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("meta: Options.ListenEmbedded %q: bad port %q", listen, portStr)
		}
		if port == 0 {
			port = server.RANDOM_PORT // nats-server reads port 0 as "default 4222"
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("meta: embedded NATS server: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log.With("component", "nats-server")}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(embeddedReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("meta: embedded NATS server (store %s, listen %q) not ready after %s", storeDir, listen, embeddedReadyTimeout)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("meta: embedded NATS server: JetStream failed to start (store %s)", storeDir)
	}
	return ns, nil
}

// natsLogger adapts nats-server's logger to slog. The server's notices (startup banner,
// shutdown) are logged at Debug to keep the broker's log quiet; warnings and errors keep
// their level. Debug and trace output is never enabled.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) logf(level slog.Level, format string, v []any) {
	if n.l.Enabled(context.Background(), level) {
		n.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}

func (n natsLogger) Noticef(format string, v ...any) { n.logf(slog.LevelDebug, format, v) }
func (n natsLogger) Warnf(format string, v ...any)   { n.logf(slog.LevelWarn, format, v) }
func (n natsLogger) Fatalf(format string, v ...any)  { n.logf(slog.LevelError, format, v) }
func (n natsLogger) Errorf(format string, v ...any)  { n.logf(slog.LevelError, format, v) }
func (n natsLogger) Debugf(format string, v ...any)  { n.logf(slog.LevelDebug, format, v) }
func (n natsLogger) Tracef(format string, v ...any)  { n.logf(slog.LevelDebug-4, format, v) }
