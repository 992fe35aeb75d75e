// Package broker is the streamd broker: it owns the topic registry, opens one storage.Log
// per partition, keeps topic metadata in the meta.Store, and serves every Kafka API key
// through one handler file per key (NN_name.go, NN = the API key). Each handler file
// registers its supported version range in init(); ApiVersions is derived from those
// registrations.
package broker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/meta"
	"github.com/streamd/streamd/core/registry"
	"github.com/streamd/streamd/core/storage"
	"github.com/streamd/streamd/core/wire"
	"github.com/streamd/streamd/partitioner"
)

// ErrClosed is returned by operations on a broker that has shut down.
var ErrClosed = errors.New("broker: closed")

// Options are the non-config inputs of a broker.
type Options struct {
	Logger *slog.Logger
	// MetaStore overrides the NATS-backed store (tests of failure paths only).
	MetaStore meta.Store
}

// Broker is one streamd node.
type Broker struct {
	cfg    config.Config
	log    *slog.Logger
	dir    string
	nodeID int32

	clusterID string
	host      string
	port      int32

	meta    meta.Store
	flusher *storage.Flusher
	srv     *wire.Server
	ln      net.Listener
	admin   *http.Server
	adminLn net.Listener
	metrics *metrics

	mu     sync.RWMutex // guards topics, byID and closed
	topics map[string]*topic
	byID   map[[16]byte]*topic
	closed bool

	adminMu sync.Mutex // serialises topic create/delete/alter (metadata writes)
	pids    *producerIDs
	groups  *group.Coordinator // consumer groups (groups.go)
	// groupConfigsSaved is what the metadata store holds of group.assignor (group →
	// strategy); only storeGroupConfigs touches it (group_configs.go).
	groupConfigsSaved map[string]string
	cleaner           *cleanerMetrics    // log cleaner state; set in Start before the admin listener, nil if disabled
	plugins           *registry.Registry // uploaded Wasm plugins (plugins.go); nil without JetStream

	pluginMetrics *pluginMetrics

	serveDone chan struct{}
	bg        sync.WaitGroup
	stop      chan struct{}
}

type topic struct {
	meta     meta.Topic
	settings config.TopicSettings
	parts    []*partition
	part     partitioner.Partitioner // settings.Partitioner (plugins.go)
}

type partition struct {
	index int32
	epoch int32 // leader epoch, from the topic metadata
	log   *storage.Log
	prod  producerState // idempotent producers
}

// New validates cfg and returns an unstarted broker. cfg is copied, never mutated.
func New(cfg config.Config, opts Options) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	b := &Broker{
		cfg:    cfg,
		log:    lg,
		dir:    cfg.LogDirs,
		nodeID: cfg.NodeID,
		meta:   opts.MetaStore,
		topics: make(map[string]*topic),
		byID:   make(map[[16]byte]*topic),
		stop:   make(chan struct{}),
	}
	b.metrics = newMetrics(b)
	return b, nil
}

// Start opens the metadata store and every partition log, then starts listening. It
// returns once the broker accepts connections.
func (b *Broker) Start(ctx context.Context) error {
	t0 := time.Now()
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return fmt.Errorf("broker: data dir: %w", err)
	}
	id, err := loadOrCreateClusterID(b.dir, b.nodeID)
	if err != nil {
		return err
	}
	b.clusterID = id
	b.pids = newProducerIDs(b.dir)
	if b.meta == nil {
		storeDir := b.cfg.Metadata.StoreDir
		if storeDir == "" {
			storeDir = filepath.Join(b.dir, "nats")
		}
		ms, err := meta.Open(ctx, meta.Options{
			NatsURL:        b.cfg.Metadata.NatsURL,
			StoreDir:       storeDir,
			Bucket:         b.cfg.Metadata.Bucket,
			Logger:         b.log.With("component", "nats"),
			ListenEmbedded: b.cfg.Metadata.Listen,
		})
		if err != nil {
			return fmt.Errorf("broker: metadata store: %w", err)
		}
		b.meta = ms
	}
	b.flusher = storage.NewFlusher(b.log.With("component", "flusher"))
	if err := b.startPlugins(ctx); err != nil { // before topics and groups: they use plugins
		b.flusher.Close()
		b.meta.Close()
		return err
	}
	if err := b.loadTopics(ctx); err != nil {
		b.closeLogs()
		b.flusher.Close()
		b.stopPlugins()
		b.meta.Close()
		return err
	}
	ln, err := net.Listen("tcp", b.cfg.ListenAddr())
	if err != nil {
		b.closeLogs()
		b.flusher.Close()
		b.stopPlugins()
		b.meta.Close()
		return fmt.Errorf("broker: listen %s: %w", b.cfg.ListenAddr(), err)
	}
	if err := b.startGroups(); err != nil { // before serving: offsets are loaded
		ln.Close()
		b.closeLogs()
		b.flusher.Close()
		b.stopPlugins()
		b.meta.Close()
		return err
	}
	b.ln = ln
	b.host, b.port = b.cfg.AdvertisedAddr()
	if b.port == 0 { // listening on :0 (tests): advertise the real port
		b.port = int32(ln.Addr().(*net.TCPAddr).Port)
	}
	b.srv = &wire.Server{
		Handler:         b,
		MaxRequestBytes: b.cfg.SocketRequestMaxBytes,
		IdleTimeout:     time.Duration(b.cfg.ConnectionsMaxIdleMs) * time.Millisecond,
		Logger:          b.log.With("component", "wire"),
		Observer:        b.metrics,
		// Produce handling copies record batches into the log before Handle returns.
		RecycleKeys: map[int16]bool{0: true},
	}
	b.serveDone = make(chan struct{})
	go func() {
		defer close(b.serveDone)
		if err := b.srv.Serve(ln); err != nil && !errors.Is(err, wire.ErrClosed) {
			b.log.Error("kafka listener stopped", "err", err)
		}
	}()
	b.startRetention()
	b.startCleaner() // before the admin listener, which reads b.cleaner
	if err := b.startAdmin(); err != nil {
		_ = b.Shutdown(context.Background())
		return err
	}
	b.mu.RLock()
	nTopics, nParts := len(b.topics), 0
	for _, t := range b.topics {
		nParts += len(t.parts)
	}
	b.mu.RUnlock()
	b.log.Info("streamd ready", "listen", ln.Addr().String(),
		"advertised", fmt.Sprintf("%s:%d", b.host, b.port), "data_dir", b.dir,
		"topics", nTopics, "partitions", nParts, "cluster_id", b.clusterID,
		"admin", b.AdminAddr(), "startup", time.Since(t0).Round(time.Millisecond))
	return nil
}

// Addr is the address the Kafka listener is bound to.
func (b *Broker) Addr() string {
	if b.ln == nil {
		return ""
	}
	return b.ln.Addr().String()
}

// AdminAddr is the address of the admin HTTP listener ("" if disabled).
func (b *Broker) AdminAddr() string {
	if b.adminLn == nil {
		return ""
	}
	return b.adminLn.Addr().String()
}

// ClusterID is the cluster id stored in the data dir's meta.properties.
func (b *Broker) ClusterID() string { return b.clusterID }

// Shutdown stops accepting, answers in-flight requests, syncs and closes every log, and
// closes the metadata store.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	var errs []error
	if b.srv != nil {
		if err := b.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		<-b.serveDone
	}
	if b.admin != nil {
		_ = b.admin.Shutdown(ctx)
	}
	b.bg.Wait()
	b.stopGroups()
	errs = append(errs, b.stopPlugins())
	errs = append(errs, b.closeLogs())
	if b.flusher != nil {
		errs = append(errs, b.flusher.Close())
	}
	if b.meta != nil {
		errs = append(errs, b.meta.Close())
	}
	b.log.Info("streamd stopped")
	return errors.Join(errs...)
}

func (b *Broker) closeLogs() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var errs []error
	for _, t := range b.topics {
		for _, p := range t.parts {
			if p.log != nil {
				errs = append(errs, p.log.Close())
			}
		}
	}
	return errors.Join(errs...)
}

// loadOrCreateClusterID reads or writes <dir>/meta.properties (Kafka's file name).
func loadOrCreateClusterID(dir string, nodeID int32) (string, error) {
	path := filepath.Join(dir, "meta.properties")
	data, err := os.ReadFile(path)
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster.id="); ok && v != "" {
				return v, nil
			}
		}
		return "", fmt.Errorf("broker: %s has no cluster.id", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("broker: %w", err)
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	content := fmt.Sprintf("# written by streamd\nversion=1\ncluster.id=%s\nnode.id=%d\n", id, nodeID)
	if err := writeFileSync(path, []byte(content)); err != nil {
		return "", err
	}
	return id, nil
}

func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("broker: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("broker: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}
