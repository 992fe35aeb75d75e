package broker

// Wasm plugins in the broker. The registry (core/registry) keeps the modules in the NATS
// JetStream object store of the metadata connection ([plugins] bucket) and is opened
// before topics and groups are loaded, so that their attachments resolve at start. What
// uses a plugin is broker state, the single source of truth the registry asks before a
// delete: a topic whose config partitioner is "wasm:NAME", a group whose group.assignor is
// "wasm:NAME". Attaching (create/alter topic, set group.assignor) runs under
// registry.Attach, so a plugin cannot disappear between the check and the commit.
//
// A new version of a partitioner takes over at the next batch (every call acquires the
// current version); a new version of an assignor triggers a rebalance of the groups that
// use it.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamd/streamd/assignor"
	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/group"
	"github.com/streamd/streamd/core/registry"
	"github.com/streamd/streamd/core/wasmhost"
	"github.com/streamd/streamd/partitioner"
)

// errNoPlugins explains why plugins are unavailable (no JetStream behind the metadata).
var errNoPlugins = errors.New("Wasm plugins are unavailable: the metadata store has no NATS JetStream object store")

// pluginMetrics count plugin failures seen by the broker's own paths.
type pluginMetrics struct {
	failures *prometheus.CounterVec
}

// startPlugins opens the plugin registry on the metadata store's JetStream connection.
func (b *Broker) startPlugins(ctx context.Context) error {
	jsp, ok := b.meta.(interface{ JetStream() jetstream.JetStream })
	if !ok {
		b.log.Warn("plugin registry disabled: the metadata store has no JetStream connection")
		return nil
	}
	pc := b.cfg.Plugins
	env, err := config.PluginEnv(pc.Env) // validated at load
	if err != nil {
		return fmt.Errorf("broker: plugins.env: %w", err)
	}
	reg, err := registry.Open(ctx, registry.Options{
		JetStream: jsp.JetStream(),
		Bucket:    pc.Bucket,
		Host: wasmhost.Config{
			CacheDir:         filepath.Join(b.dir, "plugin-cache"),
			MaxModuleBytes:   int(pc.MaxModuleBytes),
			MemoryLimitBytes: uint64(pc.MemoryLimitBytes),
			CallTimeout:      time.Duration(pc.CallTimeoutMs) * time.Millisecond,
			PoolSize:         int(pc.PoolSize),
			StartTimeout:     time.Duration(pc.StartTimeoutMs) * time.Millisecond,
			WallClock:        pc.AllowWallClock,
			CryptoRandom:     pc.AllowCryptoRandom,
			Env:              env,
			Logger:           b.log.With("component", "wasmhost"),
		},
		UsedBy: b.pluginUsers,
		OnSwap: b.pluginSwapped,
		Logger: b.log,
	})
	if err != nil {
		return fmt.Errorf("broker: plugin registry: %w", err)
	}
	b.plugins = reg
	b.pluginMetrics = &pluginMetrics{failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "streamd_plugin_failures_total",
		Help: "Failed calls into Wasm plugins seen by the broker, by plugin and use (partition, enforce; assignor failures are logged by the coordinator).",
	}, []string{"plugin", "use"})}
	b.metrics.register(b.log, "plugins", b.pluginMetrics.failures, &pluginCollector{b: b})
	return nil
}

// stopPlugins closes the registry (after groups and listeners stopped).
func (b *Broker) stopPlugins() error {
	if b.plugins == nil {
		return nil
	}
	return b.plugins.Close(context.Background())
}

// pluginFailed counts a failed plugin call.
func (b *Broker) pluginFailed(strategy, use string) {
	if b.pluginMetrics != nil {
		b.pluginMetrics.failures.WithLabelValues(strings.TrimPrefix(strategy, config.PluginPrefix), use).Inc()
	}
}

// pluginUsers is registry.Options.UsedBy: plugin name → "topic T" / "group G".
func (b *Broker) pluginUsers() map[string][]string {
	out := map[string][]string{}
	for _, t := range b.sortedTopics() {
		if n, ok := strings.CutPrefix(t.settings.Partitioner, config.PluginPrefix); ok {
			out[n] = append(out[n], "topic "+t.meta.Name)
		}
	}
	if b.groups != nil {
		for g, a := range b.groups.Assignors() {
			if n, ok := strings.CutPrefix(a, config.PluginPrefix); ok {
				out[n] = append(out[n], "group "+g)
			}
		}
	}
	return out
}

// pluginSwapped is registry.Options.OnSwap: groups using a new assignor version rebalance.
func (b *Broker) pluginSwapped(name string, kind wasmhost.Kind) {
	if kind != wasmhost.KindAssignor || b.groups == nil {
		return
	}
	for g, a := range b.groups.Assignors() {
		if a == config.PluginPrefix+name && b.groups.Rebalance(g) {
			b.log.Info("rebalancing group for the new version of its assignor", "group", g, "assignor", a)
		}
	}
}

// newPartitioner returns the strategy for a topic's partitioner setting (already
// validated syntactically). A wasm:NAME strategy resolves its plugin at every call.
func (b *Broker) newPartitioner(name string) partitioner.Partitioner {
	if n, ok := strings.CutPrefix(name, config.PluginPrefix); ok {
		if b.plugins == nil {
			return partitioner.Wasm(n, noPlugins{})
		}
		return partitioner.Wasm(n, b.plugins)
	}
	if p, ok := partitioner.ByName(name); ok {
		return p
	}
	return partitioner.Murmur2()
}

type noPlugins struct{}

func (noPlugins) Acquire(string, wasmhost.Kind) (*wasmhost.Plugin, func(), error) {
	return nil, nil, errNoPlugins
}

// attachPlugin runs fn, which commits a setting naming strategy (a partitioner or a
// group assignor), while the plugin it names, if any ("wasm:NAME"), exists with the right
// kind and cannot be deleted. A missing or wrong plugin is INVALID_CONFIG.
func (b *Broker) attachPlugin(setting, strategy string, kind wasmhost.Kind, fn func() error) error {
	name, ok := strings.CutPrefix(strategy, config.PluginPrefix)
	if !ok {
		return fn()
	}
	if b.plugins == nil {
		return kafkaErr(kerr.InvalidConfig, "%s %s: %v", setting, strategy, errNoPlugins)
	}
	return b.plugins.Attach(func() error {
		if err := b.plugins.Check(name, kind); err != nil {
			return kafkaErr(kerr.InvalidConfig, "%s %s: %s", setting, strategy, strings.TrimPrefix(err.Error(), "registry: "))
		}
		return fn()
	})
}

// lookupAssignor is group.Config.Lookup: the built-ins and wasm:NAME. A stored plugin
// that failed to load is accepted (its assignments fail and are refused until a new
// version is uploaded) so that a group keeps its setting across such a restart.
func (b *Broker) lookupAssignor(name string) (assignor.Assignor, error) {
	n, ok := strings.CutPrefix(name, config.PluginPrefix)
	if !ok {
		if a, ok := assignor.ByName(name); ok {
			return a, nil
		}
		return nil, fmt.Errorf("%w %q (want range, roundrobin, sticky, cooperative-sticky, uniform or wasm:NAME)", group.ErrUnknownAssignor, name)
	}
	if err := config.ValidatePluginName(n); err != nil {
		return nil, fmt.Errorf("%w %q: %s", group.ErrUnknownAssignor, name, strings.TrimPrefix(err.Error(), "config: "))
	}
	if b.plugins == nil {
		return nil, errNoPlugins
	}
	if err := b.plugins.Check(n, wasmhost.KindAssignor); err != nil && !errors.Is(err, registry.ErrBroken) {
		return nil, fmt.Errorf("%w %q: %s", group.ErrUnknownAssignor, name, strings.TrimPrefix(err.Error(), "registry: "))
	}
	return assignor.Wasm(n, b.plugins), nil
}

// pluginCollector reports the registry at scrape time.
type pluginCollector struct{ b *Broker }

var (
	descPlugins       = prometheus.NewDesc("streamd_plugins", "Uploaded Wasm plugins, by kind.", []string{"kind"}, nil)
	descPluginVersion = prometheus.NewDesc("streamd_plugin_version", "Version in force of each uploaded plugin.", []string{"plugin", "kind"}, nil)
)

func (c *pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPlugins
	ch <- descPluginVersion
}

func (c *pluginCollector) Collect(ch chan<- prometheus.Metric) {
	kinds := map[string]int{"partitioner": 0, "assignor": 0, "transform": 0}
	for _, p := range c.b.plugins.List() {
		kinds[p.Kind]++
		ch <- prometheus.MustNewConstMetric(descPluginVersion, prometheus.GaugeValue, float64(p.Version), p.Name, p.Kind)
	}
	for k, n := range kinds {
		ch <- prometheus.MustNewConstMetric(descPlugins, prometheus.GaugeValue, float64(n), k)
	}
}
