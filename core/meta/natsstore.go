package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectTimeout bounds connecting to an external NATS server.
const connectTimeout = 5 * time.Second

// Options configures [Open]. The zero value is not usable: set StoreDir (embedded server)
// or NatsURL (external server).
type Options struct {
	// NatsURL is the external NATS server to use, e.g. "nats://10.0.0.5:4222" (a
	// comma-separated list for a cluster). "" starts an embedded nats-server.
	NatsURL string
	// StoreDir is the embedded server's JetStream storage directory. Required when
	// embedded, ignored otherwise.
	StoreDir string
	// Bucket is the KV bucket name ([a-zA-Z0-9_-]+); default [DefaultBucket].
	Bucket string
	// Logger receives the store's and the embedded server's log; nil = slog.Default().
	Logger *slog.Logger
	// ListenEmbedded is the host:port on which the embedded server accepts other
	// processes (port 0 = random, see ClientURL). "" = no TCP listener at all; the
	// store then talks to the server in-process only.
	ListenEmbedded string
}

// NATSStore is a [Store] on a NATS JetStream KV bucket. Create it with [Open].
type NATSStore struct {
	log       *slog.Logger
	ns        *server.Server // nil when external
	nc        *nats.Conn
	js        jetstream.JetStream
	kv        jetstream.KeyValue
	clientURL string

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ Store = (*NATSStore)(nil)

var bucketNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Open connects to (or starts) the NATS server and opens the KV bucket, creating it if
// missing. ctx bounds the bucket look-up and creation; connecting to an external server
// gives up after 5 s (or ctx's deadline if sooner).
func Open(ctx context.Context, o Options) (*NATSStore, error) {
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if !bucketNameRE.MatchString(o.Bucket) {
		return nil, fmt.Errorf("meta: invalid bucket name %q: want [a-zA-Z0-9_-]+", o.Bucket)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &NATSStore{log: o.Logger.With("component", "meta")}

	var err error
	if o.NatsURL == "" {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("meta: open: %w", err)
		}
		s.ns, err = startEmbedded(o.StoreDir, o.ListenEmbedded, o.Logger)
		if err != nil {
			return nil, err
		}
		if o.ListenEmbedded != "" {
			s.clientURL = s.ns.ClientURL()
		}
		s.nc, err = nats.Connect("", nats.InProcessServer(s.ns), nats.Name("streamd-meta"),
			nats.NoReconnect(), s.errorHandler())
		if err != nil {
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
			return nil, fmt.Errorf("meta: connect in-process to embedded NATS server: %w", err)
		}
	} else {
		s.nc, err = connectExternal(ctx, o.NatsURL, s)
		if err != nil {
			return nil, err
		}
	}

	if err := s.openBucket(ctx, o.Bucket); err != nil {
		s.Close()
		return nil, err
	}
	if s.ns != nil {
		s.log.Debug("meta: embedded NATS server ready", "store_dir", o.StoreDir, "client_url", s.clientURL, "bucket", o.Bucket)
	} else {
		s.log.Info("meta: connected to NATS", "url", redactURLs(o.NatsURL), "bucket", o.Bucket)
	}
	return s, nil
}

func connectExternal(ctx context.Context, urls string, s *NATSStore) (*nats.Conn, error) {
	shown := redactURLs(urls)
	timeout := connectTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return nil, fmt.Errorf("meta: connect to NATS at %s: %w", shown, context.DeadlineExceeded)
	}
	nc, err := nats.Connect(urls,
		nats.Name("streamd-meta"),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1), // a running broker keeps trying; Open itself fails fast
		s.errorHandler(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.log.Warn("meta: disconnected from NATS", "url", shown, "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.log.Info("meta: reconnected to NATS", "server", redactURLs(nc.ConnectedUrl()))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("meta: connect to NATS at %s: %w", shown, err)
	}
	return nc, nil
}

func (s *NATSStore) errorHandler() nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		subj := ""
		if sub != nil {
			subj = sub.Subject
		}
		s.log.Warn("meta: NATS async error", "subject", subj, "err", err)
	})
}

// openBucket opens the KV bucket, creating it (file storage, BucketHistory) if missing.
func (s *NATSStore) openBucket(ctx context.Context, bucket string) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("meta: JetStream: %w", err)
	}
	s.js = js
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "streamd topic metadata (see package core/meta)",
			History:     BucketHistory,
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // created concurrently by another broker
			kv, err = js.KeyValue(ctx, bucket)
		} else if err == nil {
			s.log.Info("meta: created KV bucket", "bucket", bucket)
		}
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
			errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("meta: KV bucket %q: the NATS server does not have JetStream enabled: %w", bucket, err)
		}
		return fmt.Errorf("meta: KV bucket %q: %w", bucket, err)
	}
	s.kv = kv
	return nil
}

// JetStream returns the JetStream context of the store's connection, for other features
// that keep data in the same NATS server. It must not be used after Close.
func (s *NATSStore) JetStream() jetstream.JetStream { return s.js }

// ClientURL returns the URL other processes use to reach the embedded server, or "" when
// the embedded server does not listen on TCP or the store uses an external server.
func (s *NATSStore) ClientURL() string { return s.clientURL }

// Topics returns all topics sorted by name. Each call creates a short-lived JetStream
// consumer on the bucket: it is meant for start-up and reconciliation, not hot paths.
// A value this build cannot decode (e.g. a newer schema version) fails the whole call.
func (s *NATSStore) Topics(ctx context.Context) ([]Topic, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	var topics []Topic
	// Topic keys are single tokens (hex); other key spaces (groups.go) have a dot.
	err := s.watchValues(ctx, "*", "list topics", func(key string, value []byte) error {
		t, err := decodeTopic(key, value)
		if err == nil {
			topics = append(topics, t)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(topics, func(i, j int) bool { return topics[i].Name < topics[j].Name })
	return topics, nil
}

// firstErr keeps the first error.
func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// stopWatcher stops w and waits until its delivery goroutine has finished: the watcher's
// callback blocks on the updates channel, which is closed once that goroutine exits, so
// draining it here both unblocks the callback and leaves no goroutine behind.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop()
	for range w.Updates() {
	}
}

// PutTopic creates or replaces t.
func (s *NATSStore) PutTopic(ctx context.Context, t Topic) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ValidateTopicName(t.Name); err != nil {
		return err
	}
	if t.ID == ([16]byte{}) {
		return fmt.Errorf("meta: put topic %q: zero topic id", t.Name)
	}
	val, err := encodeTopic(t)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, topicKey(t.Name), val); err != nil {
		return fmt.Errorf("meta: put topic %q: %w", t.Name, err)
	}
	return nil
}

// DeleteTopic removes the topic name; an absent topic is not an error.
func (s *NATSStore) DeleteTopic(ctx context.Context, name string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	if err := s.deleteKey(ctx, topicKey(name)); err != nil {
		return fmt.Errorf("meta: delete topic %q: %w", name, err)
	}
	return nil
}

// deleteKey deletes key; an absent key is not an error. It checks first so that deleting
// an unknown key leaves no delete marker behind.
func (s *NATSStore) deleteKey(ctx context.Context, key string) error {
	if _, err := s.kv.Get(ctx, key); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		return err
	}
	return s.kv.Delete(ctx, key)
}

// Close closes the connection and, when embedded, shuts the server down and waits for
// it to finish. It is safe to call more than once.
func (s *NATSStore) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.nc != nil {
			s.nc.Close()
		}
		if s.ns != nil {
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
		}
	})
	return nil
}

// redactURLs hides passwords and tokens in a comma-separated list of NATS URLs.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			parts[i] = p
			continue
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx") // a bare user part is a token
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
