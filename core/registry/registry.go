package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/wasmhost"
)

// KeepVersions is how many versions of a plugin stay stored (the newest is in force).
const KeepVersions = 3

// Errors; every error of the registry wraps one of them (errors.Is) with a message saying
// what was wrong.
var (
	ErrBadRequest = errors.New("registry: bad request")    // bad name or kind
	ErrNotFound   = errors.New("registry: no such plugin") // unknown plugin or version
	ErrInvalid    = errors.New("registry: invalid module") // rejected by wasmhost
	ErrTooLarge   = errors.New("registry: module too large")
	ErrKind       = errors.New("registry: wrong plugin kind") // exists with another kind
	ErrInUse      = errors.New("registry: plugin in use")
	ErrBroken     = errors.New("registry: plugin not loaded") // stored, but failed to load at start
	ErrStorage    = errors.New("registry: object store")
	ErrClosed     = errors.New("registry: closed")
)

// Options configures [Open].
type Options struct {
	// JetStream is the connection whose object store holds the modules (required).
	JetStream jetstream.JetStream
	// Bucket is the object store bucket; default "streamd_plugins".
	Bucket string
	// Host configures the wazero host (limits, pool, compilation cache directory).
	Host wasmhost.Config
	// UsedBy returns, for every plugin name in use, its users ("topic orders", "group
	// billing"). Nil: nothing is ever in use.
	UsedBy func() map[string][]string
	// OnSwap is called (outside every lock) after a new version of a plugin took over.
	OnSwap func(name string, kind wasmhost.Kind)
	// Logger; nil = slog.Default().
	Logger *slog.Logger
}

// Info describes one plugin.
type Info struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Version  int       `json:"version"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	Uploaded time.Time `json:"uploaded_at"`
	// Versions lists the stored versions, newest first.
	Versions []int `json:"versions"`
	// UsedBy lists the topics and groups that use the plugin ("topic orders").
	UsedBy []string `json:"used_by"`
	// Error is set when the stored module could not be loaded at start.
	Error string `json:"error,omitempty"`

	unchanged bool // Put: the module was already the current version
}

// Registry holds the uploaded plugins. Its methods are safe for concurrent use.
type Registry struct {
	opts  Options
	log   *slog.Logger
	rt    *wasmhost.Runtime
	store jetstream.ObjectStore

	changeMu sync.Mutex // serialises Put, Delete and Attach

	mu      sync.Mutex // guards entries, closed and the refs of every version
	entries map[string]*entry
	closed  bool
}

type entry struct {
	info Info // UsedBy left empty
	cur  *version
	err  error // load failure at start (cur == nil)
}

// version is one loaded module version; refs counts the calls in flight on it.
type version struct {
	plugin  *wasmhost.Plugin
	refs    int
	retired bool // replaced or deleted: close when refs reaches 0
}

// ParseKind maps "partitioner", "assignor" and "transform" to a wasmhost.Kind.
func ParseKind(s string) (wasmhost.Kind, error) {
	for _, k := range []wasmhost.Kind{wasmhost.KindPartitioner, wasmhost.KindAssignor, wasmhost.KindTransform} {
		if s == k.String() {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown plugin kind %q (want partitioner, assignor or transform)", ErrBadRequest, s)
}

// Open opens (creating it if needed) the bucket and loads the newest version of every
// stored plugin.
func Open(ctx context.Context, o Options) (*Registry, error) {
	if o.JetStream == nil {
		return nil, errors.New("registry: no JetStream connection")
	}
	if o.Bucket == "" {
		o.Bucket = "streamd_plugins"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Registry{opts: o, log: o.Logger.With("component", "plugins"), entries: map[string]*entry{}}
	store, err := o.JetStream.ObjectStore(ctx, o.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		store, err = o.JetStream.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      o.Bucket,
			Description: "streamd plugin modules (see package core/registry)",
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			store, err = o.JetStream.ObjectStore(ctx, o.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: bucket %q: %v", ErrStorage, o.Bucket, err)
	}
	r.store = store
	host := o.Host
	if host.Logger == nil {
		host.Logger = r.log
	}
	if r.rt, err = wasmhost.NewRuntime(ctx, host); err != nil {
		return nil, err
	}
	if err := r.loadAll(ctx); err != nil {
		_ = r.rt.Close(ctx)
		return nil, err
	}
	return r, nil
}

// storeTimeout bounds each object store operation. A context without a deadline would
// get nats.go's default of 5 s per published chunk, too short for a loaded machine.
const storeTimeout = time.Minute

func storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, storeTimeout)
}

// objectName is the object of one stored version.
func objectName(name string, v int) string { return name + "/" + strconv.Itoa(v) }

// stored lists the stored versions: name → object infos, newest first.
func (r *Registry) stored(ctx context.Context) (map[string][]*jetstream.ObjectInfo, error) {
	objs, err := r.store.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return map[string][]*jetstream.ObjectInfo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: list: %v", ErrStorage, err)
	}
	out := map[string][]*jetstream.ObjectInfo{}
	for _, o := range objs {
		name, v, ok := strings.Cut(o.Name, "/")
		if _, err := strconv.Atoi(v); !ok || err != nil || o.Deleted {
			continue
		}
		out[name] = append(out[name], o)
	}
	for _, vs := range out {
		sort.Slice(vs, func(i, j int) bool { return objVersion(vs[i]) > objVersion(vs[j]) })
	}
	return out, nil
}

func objVersion(o *jetstream.ObjectInfo) int {
	_, v, _ := strings.Cut(o.Name, "/")
	n, _ := strconv.Atoi(v)
	return n
}

func versionsOf(objs []*jetstream.ObjectInfo) []int {
	out := make([]int, len(objs))
	for i, o := range objs {
		out[i] = objVersion(o)
	}
	return out
}

// infoOf builds the Info of a stored version from its object metadata.
func infoOf(name string, o *jetstream.ObjectInfo) Info {
	up, _ := time.Parse(time.RFC3339Nano, o.Metadata["streamd-uploaded"])
	return Info{Name: name, Kind: o.Metadata["streamd-kind"], Version: objVersion(o),
		SHA256: o.Metadata["streamd-sha256"], Size: int64(o.Size), Uploaded: up}
}

// loadAll loads the newest version of every stored plugin.
func (r *Registry) loadAll(ctx context.Context) error {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	all, err := r.stored(ctx)
	if err != nil {
		return err
	}
	for name, objs := range all {
		info := infoOf(name, objs[0])
		info.Versions = versionsOf(objs)
		e := &entry{info: info}
		t0 := time.Now()
		p, err := r.loadStored(ctx, name, info)
		if err != nil {
			e.err = err
			e.info.Error = err.Error()
			r.log.Error("stored plugin could not be loaded; its users fail until a new version is uploaded",
				"plugin", name, "version", info.Version, "err", err)
		} else {
			e.cur = &version{plugin: p}
			r.log.Info("plugin loaded", "plugin", name, "kind", info.Kind, "version", info.Version,
				"took", time.Since(t0).Round(time.Millisecond))
		}
		r.entries[name] = e
	}
	return nil
}

func (r *Registry) loadStored(ctx context.Context, name string, info Info) (*wasmhost.Plugin, error) {
	kind, err := ParseKind(info.Kind)
	if err != nil {
		return nil, err
	}
	wasm, err := r.store.GetBytes(ctx, objectName(name, info.Version))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrStorage, objectName(name, info.Version), err)
	}
	if sum := sha256.Sum256(wasm); hex.EncodeToString(sum[:]) != info.SHA256 {
		return nil, fmt.Errorf("%w: %s: sha256 %x does not match the recorded %s", ErrStorage, objectName(name, info.Version), sum, info.SHA256)
	}
	return r.rt.Load(ctx, name, wasm, kind)
}

// Put validates wasm as a plugin of the given kind and stores it as the next version of
// name, which takes over from the current version at once. Uploading the module that is
// already the current version changes nothing (created is false).
func (r *Registry) Put(ctx context.Context, name string, kind wasmhost.Kind, wasm []byte) (info Info, created bool, err error) {
	info, swapped, err := r.put(ctx, name, kind, wasm)
	if err != nil {
		return Info{}, false, err
	}
	if swapped && r.opts.OnSwap != nil {
		r.opts.OnSwap(name, kind)
	}
	return r.withUsers(info), info.Version != 0 && !info.unchanged, nil
}

// put does Put's work under changeMu; swapped reports that an older version was replaced.
func (r *Registry) put(ctx context.Context, name string, kind wasmhost.Kind, wasm []byte) (info Info, swapped bool, err error) {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	if err := config.ValidatePluginName(name); err != nil {
		return Info{}, false, fmt.Errorf("%w: %s", ErrBadRequest, strings.TrimPrefix(err.Error(), "config: "))
	}
	if _, err := ParseKind(kind.String()); err != nil {
		return Info{}, false, err
	}
	if limit := r.opts.Host.MaxModuleBytes; limit > 0 && len(wasm) > limit {
		return Info{}, false, fmt.Errorf("%w: %d bytes, the limit is %d ([plugins] max_module_bytes)", ErrTooLarge, len(wasm), limit)
	}
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return Info{}, false, ErrClosed
	}
	prev := r.entries[name]
	var prevInfo Info
	if prev != nil {
		prevInfo = prev.info
	}
	r.mu.Unlock()
	if prev != nil && prevInfo.Kind != kind.String() {
		return Info{}, false, fmt.Errorf("%w: plugin %q is a %s; delete it before uploading a %s under that name", ErrKind, name, prevInfo.Kind, kind)
	}
	if prev != nil && prev.err == nil && prevInfo.SHA256 == sha {
		prevInfo.unchanged = true
		return prevInfo, false, nil
	}
	p, err := r.rt.Load(ctx, name, wasm, kind)
	if err != nil {
		if errors.Is(err, wasmhost.ErrInvalidModule) {
			return Info{}, false, fmt.Errorf("%w: %s", ErrInvalid, strings.TrimPrefix(err.Error(), "wasmhost: "))
		}
		return Info{}, false, err
	}
	objs, err := r.stored(ctx)
	if err != nil {
		_ = p.Close()
		return Info{}, false, err
	}
	next := 1
	if vs := objs[name]; len(vs) > 0 {
		next = objVersion(vs[0]) + 1
	}
	info = Info{Name: name, Kind: kind.String(), Version: next, SHA256: sha, Size: int64(len(wasm)),
		Uploaded: time.Now().UTC().Truncate(time.Millisecond)}
	_, err = r.store.Put(ctx, jetstream.ObjectMeta{
		Name:        objectName(name, next),
		Description: "streamd " + kind.String() + " plugin " + name,
		Metadata: map[string]string{
			"streamd-kind": info.Kind, "streamd-version": strconv.Itoa(next),
			"streamd-sha256": sha, "streamd-uploaded": info.Uploaded.Format(time.RFC3339Nano),
		},
	}, bytes.NewReader(wasm))
	if err != nil {
		_ = p.Close()
		return Info{}, false, fmt.Errorf("%w: storing %s: %v", ErrStorage, objectName(name, next), err)
	}
	versions := append([]int{next}, versionsOf(objs[name])...)
	for _, old := range objs[name] {
		if v := objVersion(old); v <= next-KeepVersions {
			if err := r.store.Delete(ctx, old.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				r.log.Warn("could not delete an old plugin version", "object", old.Name, "err", err)
				continue
			}
			versions = slices.DeleteFunc(versions, func(x int) bool { return x == v })
		}
	}
	info.Versions = versions
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = p.Close()
		return Info{}, false, ErrClosed
	}
	var old *version
	if e := r.entries[name]; e != nil {
		old = e.cur
	}
	r.entries[name] = &entry{info: info, cur: &version{plugin: p}}
	closeOld := old != nil && r.retire(old)
	r.mu.Unlock()
	if closeOld {
		_ = old.plugin.Close()
	}
	r.log.Info("plugin uploaded", "plugin", name, "kind", info.Kind, "version", next, "sha256", sha, "size", len(wasm))
	return info, prev != nil, nil
}

// retire marks v replaced and reports whether it can be closed now (no call in flight).
// r.mu must be held.
func (r *Registry) retire(v *version) bool {
	v.retired = true
	return v.refs == 0
}

// Delete removes every stored version of name. It fails with ErrInUse while a topic or
// a group uses the plugin.
func (r *Registry) Delete(ctx context.Context, name string) error {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	r.mu.Lock()
	e := r.entries[name]
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if e == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if users := r.users()[name]; len(users) > 0 {
		return fmt.Errorf("%w: plugin %q is used by %s; detach it first", ErrInUse, name, strings.Join(users, ", "))
	}
	objs, err := r.stored(ctx)
	if err != nil {
		return err
	}
	vs := objs[name]
	for i := len(vs) - 1; i >= 0; i-- { // oldest first: a crash leaves the newest in force
		if err := r.store.Delete(ctx, vs[i].Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("%w: deleting %s: %v", ErrStorage, vs[i].Name, err)
		}
	}
	r.mu.Lock()
	delete(r.entries, name)
	closeCur := e.cur != nil && r.retire(e.cur)
	r.mu.Unlock()
	if closeCur {
		_ = e.cur.plugin.Close()
	}
	r.log.Info("plugin deleted", "plugin", name, "versions", len(vs))
	return nil
}

// users calls Options.UsedBy.
func (r *Registry) users() map[string][]string {
	if r.opts.UsedBy == nil {
		return nil
	}
	return r.opts.UsedBy()
}

func (r *Registry) withUsers(info Info) Info {
	info.UsedBy = r.users()[info.Name]
	if info.UsedBy == nil {
		info.UsedBy = []string{}
	}
	sort.Strings(info.UsedBy)
	return info
}

// Get describes the plugin name.
func (r *Registry) Get(name string) (Info, error) {
	r.mu.Lock()
	e := r.entries[name]
	r.mu.Unlock()
	if e == nil {
		return Info{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return r.withUsers(e.info), nil
}

// List describes every plugin, sorted by name.
func (r *Registry) List() []Info {
	r.mu.Lock()
	out := make([]Info, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e.info)
	}
	r.mu.Unlock()
	users := r.users()
	for i := range out {
		out[i].UsedBy = append([]string{}, users[out[i].Name]...)
		sort.Strings(out[i].UsedBy)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Module returns the stored module of name at version (0: the current one).
func (r *Registry) Module(ctx context.Context, name string, version int) ([]byte, Info, error) {
	ctx, cancel := storeCtx(ctx)
	defer cancel()
	info, err := r.Get(name)
	if err != nil {
		return nil, Info{}, err
	}
	if version == 0 {
		version = info.Version
	}
	if !slices.Contains(info.Versions, version) {
		return nil, Info{}, fmt.Errorf("%w: plugin %q has no stored version %d (stored: %v)", ErrNotFound, name, version, info.Versions)
	}
	o, err := r.store.GetInfo(ctx, objectName(name, version))
	if err != nil {
		return nil, Info{}, fmt.Errorf("%w: %s: %v", ErrStorage, objectName(name, version), err)
	}
	wasm, err := r.store.GetBytes(ctx, objectName(name, version))
	if err != nil {
		return nil, Info{}, fmt.Errorf("%w: %s: %v", ErrStorage, objectName(name, version), err)
	}
	vi := infoOf(name, o)
	vi.Versions, vi.UsedBy, vi.Error = info.Versions, info.UsedBy, info.Error
	return wasm, vi, nil
}

// Check reports whether name is a loaded plugin of the given kind.
func (r *Registry) Check(name string, kind wasmhost.Kind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.lookup(name, kind)
	return err
}

// lookup finds the current version of name; r.mu must be held.
func (r *Registry) lookup(name string, kind wasmhost.Kind) (*version, error) {
	if r.closed {
		return nil, ErrClosed
	}
	e := r.entries[name]
	switch {
	case e == nil:
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	case e.info.Kind != kind.String():
		return nil, fmt.Errorf("%w: plugin %q is a %s, not a %s", ErrKind, name, e.info.Kind, kind)
	case e.cur == nil:
		return nil, fmt.Errorf("%w: plugin %q version %d: %v", ErrBroken, name, e.info.Version, e.err)
	}
	return e.cur, nil
}

// Acquire returns the current version of the plugin name, which must be of the given
// kind, and a release function to call exactly once when the call is done. A version
// replaced meanwhile stays open until its last release.
func (r *Registry) Acquire(name string, kind wasmhost.Kind) (*wasmhost.Plugin, func(), error) {
	r.mu.Lock()
	v, err := r.lookup(name, kind)
	if err != nil {
		r.mu.Unlock()
		return nil, nil, err
	}
	v.refs++
	r.mu.Unlock()
	var once sync.Once
	return v.plugin, func() {
		once.Do(func() {
			r.mu.Lock()
			v.refs--
			closeNow := v.retired && v.refs == 0
			r.mu.Unlock()
			if closeNow {
				_ = v.plugin.Close()
			}
		})
	}, nil
}

// Attach runs fn, which attaches plugins to topics or groups (after checking them with
// Check), while no plugin can be deleted or replaced by another kind.
func (r *Registry) Attach(fn func() error) error {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	return fn()
}

// Close closes every plugin and the runtime; later calls fail with ErrClosed.
func (r *Registry) Close(ctx context.Context) error {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.entries = map[string]*entry{}
	r.mu.Unlock()
	return r.rt.Close(ctx)
}
