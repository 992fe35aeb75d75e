package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine running. No goleak
// exceptions are needed: a closed NATSStore leaves nothing of nats.go or nats-server.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quietLogger = slog.New(slog.DiscardHandler)

// logBuffer is a slog handler target that tests can inspect.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openTest opens a store and closes it at the end of the test. Options left empty get an
// embedded server on a fresh temp dir and a logger that fails the test on warnings.
func openTest(t *testing.T, o Options) *NATSStore {
	t.Helper()
	if o.NatsURL == "" && o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	if o.Logger == nil {
		var logs logBuffer
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		t.Cleanup(func() {
			if s := logs.String(); s != "" {
				t.Errorf("unexpected warnings or errors logged:\n%s", s)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testTopic(name string, partitions int) Topic {
	t := Topic{
		Name:       name,
		ID:         NewTopicID(),
		Partitions: make([]PartitionMeta, partitions),
		CreatedAt:  time.Now(),
	}
	for i := range t.Partitions {
		t.Partitions[i].LeaderEpoch = int32(i)
	}
	return t
}

func mustTopics(t *testing.T, s Store) []Topic {
	t.Helper()
	ts, err := s.Topics(context.Background())
	if err != nil {
		t.Fatalf("Topics: %v", err)
	}
	return ts
}

func mustPut(t *testing.T, s Store, tp Topic) {
	t.Helper()
	if err := s.PutTopic(context.Background(), tp); err != nil {
		t.Fatalf("PutTopic(%q): %v", tp.Name, err)
	}
}

// assertTopicsEqual compares topic lists field by field (nil and empty maps and slices
// are equal, times compare as instants).
func assertTopicsEqual(t *testing.T, got, want []Topic) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d topics %v, want %d %v", len(got), names(got), len(want), names(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		switch {
		case g.Name != w.Name:
			t.Errorf("topic %d: name %q, want %q", i, g.Name, w.Name)
		case g.ID != w.ID:
			t.Errorf("topic %q: id %x, want %x", w.Name, g.ID, w.ID)
		case len(g.Partitions) != len(w.Partitions) || (len(w.Partitions) > 0 && !equalPartitions(g.Partitions, w.Partitions)):
			t.Errorf("topic %q: partitions %v, want %v", w.Name, g.Partitions, w.Partitions)
		case !maps.Equal(g.Configs, w.Configs):
			t.Errorf("topic %q: configs %v, want %v", w.Name, g.Configs, w.Configs)
		case g.Internal != w.Internal:
			t.Errorf("topic %q: internal %v, want %v", w.Name, g.Internal, w.Internal)
		case !g.CreatedAt.Equal(w.CreatedAt):
			t.Errorf("topic %q: created %v, want %v", w.Name, g.CreatedAt, w.CreatedAt)
		}
	}
}

func equalPartitions(a, b []PartitionMeta) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func names(ts []Topic) []string {
	var n []string
	for _, t := range ts {
		n = append(n, t.Name)
	}
	return n
}

func TestPutListDelete(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	if ts := mustTopics(t, s); len(ts) != 0 {
		t.Fatalf("new store has topics %v", names(ts))
	}

	orders := testTopic("orders", 3)
	orders.Configs = map[string]string{"retention.ms": "60000"}
	audit := testTopic("audit", 1)
	offsets := testTopic("__consumer_offsets", 50)
	offsets.Internal = true
	for _, tp := range []Topic{orders, audit, offsets} {
		mustPut(t, s, tp)
	}
	assertTopicsEqual(t, mustTopics(t, s), []Topic{offsets, audit, orders}) // sorted by name

	// Replace: more partitions, a bumped epoch, changed configs.
	orders.Partitions = append(orders.Partitions, PartitionMeta{LeaderEpoch: 0})
	orders.Partitions[0].LeaderEpoch = 7
	orders.Configs = map[string]string{"cleanup.policy": "compact"}
	mustPut(t, s, orders)
	assertTopicsEqual(t, mustTopics(t, s), []Topic{offsets, audit, orders})

	if err := s.DeleteTopic(ctx, "audit"); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	for range 2 { // absent (deleted, then never existed): no error
		if err := s.DeleteTopic(ctx, "audit"); err != nil {
			t.Fatalf("DeleteTopic of a deleted topic: %v", err)
		}
		if err := s.DeleteTopic(ctx, "never-created"); err != nil {
			t.Fatalf("DeleteTopic of an unknown topic: %v", err)
		}
	}
	assertTopicsEqual(t, mustTopics(t, s), []Topic{offsets, orders})

	// Deleting an absent topic writes nothing: the bucket holds 3 puts + 1 replace (history
	// keeps the old revision of orders) + 1 delete marker for audit.
	st, err := s.kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Values(); got != 5 {
		t.Errorf("bucket holds %d messages, want 5", got)
	}

	// A re-created topic comes back with its new id.
	audit2 := testTopic("audit", 2)
	mustPut(t, s, audit2)
	assertTopicsEqual(t, mustTopics(t, s), []Topic{offsets, audit2, orders})
}

func TestReopenKeepsTopics(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, Options{StoreDir: dir, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := testTopic("a", 1), testTopic("b", 4), testTopic("c", 2)
	for _, tp := range []Topic{a, b, c} {
		mustPut(t, s, tp)
	}
	if err := s.DeleteTopic(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, Options{StoreDir: dir})
	assertTopicsEqual(t, mustTopics(t, s2), []Topic{a, c})

	// The bucket that Open created is file-backed with the documented history.
	kv, err := s2.JetStream().KeyValue(ctx, DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
	if info.Config.Storage != jetstream.FileStorage || st.History() != BucketHistory {
		t.Errorf("bucket storage %v history %d, want file storage, history %d", info.Config.Storage, st.History(), BucketHistory)
	}
}

func TestWeirdTopicNames(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	weird := []string{
		"a..b", "_x", ".x", "x.", "...", "-", "__consumer_offsets", "*", // "*" is rejected below
		strings.Repeat("z", MaxTopicNameLen),
		strings.Repeat(".", MaxTopicNameLen),
	}
	var want []Topic
	for _, n := range weird {
		if ValidateTopicName(n) != nil {
			continue
		}
		tp := testTopic(n, 1)
		mustPut(t, s, tp)
		want = append(want, tp)
	}
	if len(want) != len(weird)-1 {
		t.Fatalf("%d valid weird names, want %d", len(want), len(weird)-1)
	}
	got := mustTopics(t, s)
	sortTopics(want)
	assertTopicsEqual(t, got, want)
	for _, tp := range want {
		if err := s.DeleteTopic(ctx, tp.Name); err != nil {
			t.Errorf("DeleteTopic(%q): %v", tp.Name, err)
		}
	}
	if got := mustTopics(t, s); len(got) != 0 {
		t.Errorf("after deleting all: %v", names(got))
	}
}

func sortTopics(ts []Topic) {
	slices.SortFunc(ts, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
}

func TestPutAndDeleteReject(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	long := strings.Repeat("x", MaxTopicNameLen+1)
	for _, tc := range []struct {
		name string
		t    Topic
		want string
	}{
		{"empty name", Topic{ID: NewTopicID()}, "invalid topic name"},
		{"dot", Topic{Name: ".", ID: NewTopicID()}, "invalid topic name"},
		{"too long", Topic{Name: long, ID: NewTopicID()}, "maximum is 249"},
		{"subject wildcard", Topic{Name: "a>", ID: NewTopicID()}, "illegal character"},
		{"zero id", Topic{Name: "ok"}, "zero topic id"},
	} {
		err := s.PutTopic(ctx, tc.t)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: PutTopic error %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := s.DeleteTopic(ctx, ""); err == nil {
		t.Error("DeleteTopic(\"\"): no error")
	}
	if got := mustTopics(t, s); len(got) != 0 {
		t.Errorf("rejected puts stored %v", names(got))
	}
}

// TestTopicsRejectsUnknownValues: a value written by a newer streamd is reported, not
// skipped or misread.
func TestTopicsRejectsUnknownValues(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	mustPut(t, s, testTopic("ok", 1))
	kv, err := s.JetStream().KeyValue(ctx, DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, topicKey("future"), []byte(`{"v":2,"name":"future"}`)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Topics(ctx)
	if err == nil || !strings.Contains(err.Error(), `topic "future": unsupported value version 2`) {
		t.Fatalf("Topics error = %v, want unsupported version of topic \"future\"", err)
	}
}

// startNATS starts a plain nats-server on 127.0.0.1 with a random port, as another
// process would run it.
func startNATS(t *testing.T, jetStream bool) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: jetStream}
	if jetStream {
		opts.StoreDir = t.TempDir()
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func TestExternalServer(t *testing.T) {
	ns := startNATS(t, true)
	s := openTest(t, Options{NatsURL: ns.ClientURL(), Bucket: "ext_topics"})
	if s.ClientURL() != "" {
		t.Errorf("external store ClientURL = %q, want \"\"", s.ClientURL())
	}
	tp := testTopic("orders", 2)
	mustPut(t, s, tp)
	assertTopicsEqual(t, mustTopics(t, s), []Topic{tp})

	// A second client (another broker process) sees the same bucket.
	s2 := openTest(t, Options{NatsURL: ns.ClientURL(), Bucket: "ext_topics"})
	assertTopicsEqual(t, mustTopics(t, s2), []Topic{tp})
}

// TestListenEmbedded: an embedded server started with ListenEmbedded serves other
// processes at ClientURL, while the in-process-only default has no URL.
func TestListenEmbedded(t *testing.T) {
	a := openTest(t, Options{ListenEmbedded: "127.0.0.1:0"})
	u := a.ClientURL()
	if !strings.HasPrefix(u, "nats://127.0.0.1:") || strings.HasSuffix(u, ":0") || strings.HasSuffix(u, ":-1") {
		t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<port>", u)
	}
	b := openTest(t, Options{NatsURL: u})
	tp := testTopic("shared", 1)
	mustPut(t, b, tp)
	assertTopicsEqual(t, mustTopics(t, a), []Topic{tp})

	if c := openTest(t, Options{}); c.ClientURL() != "" {
		t.Errorf("in-process store ClientURL = %q, want \"\"", c.ClientURL())
	}
}

func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnreachableURL(t *testing.T) {
	addr := closedPortURL(t)
	for _, tc := range []struct{ url, want, secret string }{
		{"nats://" + addr, "nats://" + addr, ""},
		{"nats://streamd:hunter2@" + addr, "nats://streamd:xxxxx@" + addr, "hunter2"},
	} {
		start := time.Now()
		s, err := Open(context.Background(), Options{NatsURL: tc.url})
		took := time.Since(start)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded", tc.url)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "meta: connect to NATS at "+tc.want) {
			t.Errorf("error %q does not name %s", msg, tc.want)
		}
		if tc.secret != "" && strings.Contains(msg, tc.secret) {
			t.Errorf("error %q leaks the password", msg)
		}
		if took > 5500*time.Millisecond {
			t.Errorf("Open took %v, want at most ~5s", took)
		}
	}
}

func TestExternalWithoutJetStream(t *testing.T) {
	ns := startNATS(t, false)
	_, err := Open(context.Background(), Options{NatsURL: ns.ClientURL()})
	if err == nil || !strings.Contains(err.Error(), "JetStream") {
		t.Fatalf("Open error = %v, want one about JetStream", err)
	}
}

func TestOpenOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no store dir", Options{}, "StoreDir is required"},
		{"bad bucket", Options{StoreDir: t.TempDir(), Bucket: "a.b"}, `invalid bucket name "a.b"`},
		{"bad listen", Options{StoreDir: t.TempDir(), ListenEmbedded: "localhost"}, "want host:port"},
		{"bad port", Options{StoreDir: t.TempDir(), ListenEmbedded: "127.0.0.1:x"}, "bad port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.o)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), "meta: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(context.Background(), Options{StoreDir: t.TempDir(), Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := s.Topics(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Topics after Close: %v", err)
	}
	if err := s.PutTopic(ctx, testTopic("x", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("PutTopic after Close: %v", err)
	}
	if err := s.DeleteTopic(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("DeleteTopic after Close: %v", err)
	}
}

// TestCloseLeavesNoGoroutines checks each mode on its own (TestMain checks the package).
func TestCloseLeavesNoGoroutines(t *testing.T) {
	// The external server outlives the store: create the bucket (server-side stream
	// goroutines) before the goroutine snapshot so only the store's own are checked.
	ext := startNATS(t, true)
	openTest(t, Options{NatsURL: ext.ClientURL()}).Close()
	for _, o := range []Options{
		{StoreDir: t.TempDir()},
		{StoreDir: t.TempDir(), ListenEmbedded: "127.0.0.1:0"},
		{NatsURL: ext.ClientURL()},
	} {
		t.Run(fmt.Sprintf("url=%q,listen=%q", o.NatsURL, o.ListenEmbedded), func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			o.Logger = quietLogger
			s, err := Open(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			mustPut(t, s, testTopic("t", 1))
			mustTopics(t, s)
			if err := s.DeleteTopic(context.Background(), "t"); err != nil {
				t.Fatal(err)
			}
			s.Close()
			goleak.VerifyNone(t, before)
		})
	}
}

// TestQuietOutput: nothing reaches stdout/stderr, and a normal open/use/close logs
// nothing at Info or above from the embedded server.
func TestQuietOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	var logs logBuffer
	func() {
		defer func() { os.Stdout, os.Stderr = stdout, stderr }()
		s, err := Open(context.Background(), Options{StoreDir: t.TempDir(),
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Error(err)
			return
		}
		mustPut(t, s, testTopic("t", 1))
		s.Close()
	}()
	w.Close()
	out, _ := io.ReadAll(r)
	r.Close()
	if len(out) != 0 {
		t.Errorf("wrote to stdout/stderr:\n%s", out)
	}
	l := logs.String()
	if !strings.Contains(l, "component=nats-server") {
		t.Errorf("embedded server log not routed through slog at debug level:\n%s", l)
	}
	for _, line := range strings.Split(strings.TrimSpace(l), "\n") {
		if strings.Contains(line, "component=nats-server") && !strings.Contains(line, "level=DEBUG") {
			t.Errorf("embedded server logged above debug: %s", line)
		}
	}
}

// TestEmbeddedStartupTime reports how long Open takes on a fresh and on an existing
// store dir (target: well under a second).
func TestEmbeddedStartupTime(t *testing.T) {
	dir := t.TempDir()
	for _, phase := range []string{"fresh", "reopen"} {
		start := time.Now()
		s, err := Open(context.Background(), Options{StoreDir: dir, Logger: quietLogger})
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if phase == "fresh" {
			mustPut(t, s, testTopic("t", 1))
		}
		start = time.Now()
		s.Close()
		t.Logf("%s: Open %v, Close %v", phase, took, time.Since(start))
		if took > 3*time.Second {
			t.Errorf("%s Open took %v", phase, took)
		}
	}
}

func BenchmarkOpenClose(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		s, err := Open(context.Background(), Options{StoreDir: dir, Logger: quietLogger})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// TestManyTopics lists more topics than the KV watcher buffers (256) at once.
func TestManyTopics(t *testing.T) {
	s := openTest(t, Options{})
	var want []Topic
	for i := range 300 {
		tp := testTopic(fmt.Sprintf("t%03d", i), 1)
		mustPut(t, s, tp)
		want = append(want, tp)
	}
	assertTopicsEqual(t, mustTopics(t, s), want)
}

func TestTopicsCanceledContext(t *testing.T) {
	s := openTest(t, Options{})
	mustPut(t, s, testTopic("t", 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Topics(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Topics(canceled ctx) error = %v, want context.Canceled", err)
	}
	if got := mustTopics(t, s); len(got) != 1 { // the store still works afterwards
		t.Fatalf("Topics after a canceled call: %v", names(got))
	}
}
