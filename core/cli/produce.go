package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamd/streamd/core/wasmhost"
	"github.com/streamd/streamd/partitioner"
)

// ProduceOptions configures Produce. The zero value of every field but Topic
// is a valid default.
type ProduceOptions struct {
	Topic        string
	Key          *string  // fixed key for every record; nil for no key
	KeySeparator string   // split each line into key and value at the first separator
	Headers      []string // "key=value" headers added to every record
	Acks         string   // "all" (default), "1" or "0"
	Partition    int32    // target partition; -1 for the topic's partitioner (see below)
	Compression  string   // "none" (default), "gzip", "snappy", "lz4" or "zstd"
	// Admin is the streamd admin listener to download the topic's Wasm partitioner from
	// (default DefaultAdminURL). Without Partition, records are placed by the topic's
	// partitioner config when the broker reports one that is set (a built-in, or
	// wasm:NAME run inside this producer), else by kgo's default (murmur2 for keys, as
	// the Java client).
	Admin string
}

// ParseAcks maps "all" (or "-1"), "1" and "0" to Kafka's acks values -1, 1
// and 0; "" is "all".
func ParseAcks(s string) (int, error) {
	switch s {
	case "", "all", "-1":
		return -1, nil
	case "1":
		return 1, nil
	case "0":
		return 0, nil
	}
	return 0, fmt.Errorf("bad --acks %q: want all, 1 or 0", s)
}

// ParseCompression maps a codec name ("" is "none") to kgo's codec.
func ParseCompression(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("bad --compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// Produce sends one record per line of env.Stdin to o.Topic and reports the
// count on env.Stderr. Cancelling ctx stops reading; records already read
// are still delivered. The first failed record ends the run with its error.
func Produce(ctx context.Context, env Env, o ProduceOptions) error {
	acks, err := ParseAcks(o.Acks)
	if err != nil {
		return err
	}
	codec, err := ParseCompression(o.Compression)
	if err != nil {
		return err
	}
	if o.Key != nil && o.KeySeparator != "" {
		return errors.New("--key and --key-separator cannot be used together")
	}
	var headers []kgo.RecordHeader
	for _, h := range o.Headers {
		k, v, err := parseKV("-H", h)
		if err != nil {
			return err
		}
		headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}

	opts := []kgo.Opt{
		kgo.ProducerBatchCompression(codec),
		kgo.RecordDeliveryTimeout(max(env.timeout(), time.Second)), // kgo's minimum
	}
	switch acks {
	case -1:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case 1:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	}
	lazy := &lazyPartitioner{inner: kgo.StickyKeyPartitioner(nil)}
	if o.Partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	} else {
		opts = append(opts, kgo.RecordPartitioner(lazy))
	}

	cctx, cancel := context.WithTimeout(ctx, env.timeout())
	defer cancel()
	cl, err := env.connect(cctx, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := checkTopic(cctx, env, adm, o.Topic, o.Partition); err != nil {
		return err
	}
	var kp *partitioner.Kgo
	if o.Partition < 0 {
		var release func()
		if kp, release, err = topicPartitioner(cctx, env, adm, o); err != nil {
			return err
		}
		defer release()
		if kp != nil {
			lazy.inner = kp
		}
	}

	var (
		produced atomic.Int64
		failMu   sync.Mutex
		failure  error
		failed   = make(chan struct{})
	)
	promise := func(r *kgo.Record, err error) {
		if err == nil {
			produced.Add(1)
			return
		}
		failMu.Lock()
		defer failMu.Unlock()
		if failure == nil {
			if kp != nil && kp.Err() != nil {
				failure = fmt.Errorf("produce to topic %q: the topic's partitioner failed: %v", r.Topic, kp.Err())
			} else {
				failure = fmt.Errorf("produce to topic %q partition %d: %v", r.Topic, r.Partition, err)
			}
			close(failed)
		}
	}

	// Records outlive an interrupt: they are bounded by the delivery timeout.
	rctx := context.WithoutCancel(ctx)
	lines, stop := readLines(env.Stdin)
	defer close(stop)
	sep := []byte(o.KeySeparator)
	var readErr error
loop:
	for n := 1; ; n++ {
		var l line
		var ok bool
		select {
		case l, ok = <-lines:
		case <-ctx.Done():
			break loop
		case <-failed:
			break loop
		}
		if !ok {
			break loop
		}
		if l.err != nil {
			readErr = fmt.Errorf("reading stdin: %v", l.err)
			break loop
		}
		r := &kgo.Record{Topic: o.Topic, Value: l.b, Headers: headers, Partition: o.Partition}
		switch {
		case o.Key != nil:
			r.Key = []byte(*o.Key)
		case o.KeySeparator != "":
			k, v, found := bytes.Cut(l.b, sep)
			if !found {
				readErr = fmt.Errorf("line %d: no key separator %q", n, o.KeySeparator)
				break loop
			}
			r.Key, r.Value = k, v
		}
		cl.Produce(rctx, r, promise)
	}

	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), env.timeout())
	defer fcancel()
	flushErr := cl.Flush(fctx)
	failMu.Lock()
	defer failMu.Unlock()
	switch {
	case failure != nil:
		return fmt.Errorf("%v (%d records produced)", failure, produced.Load())
	case flushErr != nil:
		return fmt.Errorf("records not delivered within %v (see --timeout); %d records produced", env.timeout(), produced.Load())
	case readErr != nil:
		return fmt.Errorf("%v (%d records produced)", readErr, produced.Load())
	}
	fmt.Fprintf(env.Stderr, "Produced %d records to topic %q.\n", produced.Load(), o.Topic)
	return nil
}

// checkTopic fails clearly when topic (or partition p, if p >= 0) does not
// exist, instead of letting the client retry metadata.
func checkTopic(ctx context.Context, env Env, adm *kadm.Client, topic string, p int32) error {
	topics, err := adm.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		if ctxErr := env.ctxError(ctx); ctxErr != nil {
			err = ctxErr
		}
		return fmt.Errorf("topic %q: %v", topic, err)
	}
	t, ok := topics[topic]
	if !ok {
		t.Err = kerr.UnknownTopicOrPartition
	}
	if t.Err != nil {
		return fmt.Errorf("topic %q: %v", topic, t.Err)
	}
	if _, ok := t.Partitions[p]; p >= 0 && !ok {
		return fmt.Errorf("topic %q has no partition %d (it has %d)", topic, p, len(t.Partitions))
	}
	return nil
}

type line struct {
	b   []byte
	err error
}

// readLines reads r line by line into the returned channel, which is closed
// at EOF, after a read error, or once stop is closed.
func readLines(r io.Reader) (<-chan line, chan<- struct{}) {
	out := make(chan line)
	stop := make(chan struct{})
	go func() {
		defer close(out)
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			b, err := br.ReadBytes('\n')
			if len(b) > 0 && b[len(b)-1] == '\n' {
				b = b[:len(b)-1]
			} else if err == io.EOF && len(b) == 0 {
				return
			}
			var l line
			if err != nil && err != io.EOF {
				l.err = err
			} else {
				l.b = b
			}
			select {
			case out <- l:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out, stop
}

// lazyPartitioner delegates to inner, which Produce may replace before the first record.
type lazyPartitioner struct{ inner kgo.Partitioner }

func (l *lazyPartitioner) ForTopic(t string) kgo.TopicPartitioner { return l.inner.ForTopic(t) }

// topicPartitioner returns the kgo partitioner for the topic's partitioner config when
// the broker reports it as set on the topic (nil: keep kgo's default), and a function
// releasing what it loaded. A wasm:NAME partitioner is downloaded from o.Admin and runs
// in this process.
func topicPartitioner(ctx context.Context, env Env, adm *kadm.Client, o ProduceOptions) (*partitioner.Kgo, func(), error) {
	none := func() {}
	rcs, err := adm.DescribeTopicConfigs(ctx, o.Topic)
	if err != nil {
		return nil, none, nil // not a streamd broker, or configs unreadable: the default
	}
	rc, err := rcs.On(o.Topic, nil)
	if err != nil || rc.Err != nil {
		return nil, none, nil
	}
	strategy := ""
	for _, c := range rc.Configs {
		if c.Key == "partitioner" && c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
			strategy = *c.Value
		}
	}
	if strategy == "" {
		return nil, none, nil
	}
	if name, ok := strings.CutPrefix(strategy, partitioner.PluginPrefix); ok {
		admin := o.Admin
		if admin == "" {
			admin = DefaultAdminURL
		}
		remote, err := partitioner.FetchWasm(ctx, admin, name, wasmhost.Config{CacheDir: pluginCacheDir(), CallTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, none, fmt.Errorf("topic %q uses partitioner %s: %s (see --admin)", o.Topic, strategy, strings.TrimPrefix(err.Error(), "partitioner: "))
		}
		return partitioner.NewKgo(remote), func() { remote.Close() }, nil
	}
	p, ok := partitioner.ByName(strategy)
	if !ok {
		return nil, none, fmt.Errorf("topic %q uses partitioner %q, which this client does not know", o.Topic, strategy)
	}
	return partitioner.NewKgo(p), none, nil
}

// pluginCacheDir is where the CLI keeps compiled plugins ($XDG_CACHE_HOME or ~/.cache,
// then streamd/plugin-cache), so that producing with a Wasm partitioner compiles it once;
// "" (no cache) when there is no usable cache directory.
func pluginCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	dir := filepath.Join(base, "streamd", "plugin-cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	return dir
}
