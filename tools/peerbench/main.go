//go:build linux

// Command peerbench measures streamd against peer brokers on this machine
// with one reproducible command, run from the repository root:
//
//	go run ./tools/peerbench                 # streamd, kfake, NATS JetStream
//	go run ./tools/peerbench -systems kfake,nats -out /tmp/peers.md
//
// In one run it measures the disk's write+fdatasync ceiling in the data
// directory, then for each system: starts the broker as a child process
// (streamd from `go build ./cmd/streamd`; kfake and an embedded nats-server
// by re-executing this binary with a hidden subcommand, so no broker shares a
// process with the load generator), runs a warm-up produce, a measured peak
// produce, a read-back of everything produced (and a second one with this
// process at Go's default GOGC, see -client-gogc), and a produce at a fixed
// rate (half of streamd's peak) for latency, and reads the child's peak and
// current RSS from /proc. The markdown report goes to stdout (and -out);
// progress goes to stderr. docs/benchmarks.md explains every number.
//
// Systems (-systems, comma-separated): streamd; kfake (both kfake-async,
// DataDir only, and kfake-sync, DataDir + SyncWrites); nats (both nats-async,
// file storage with the default 2-minute sync interval, and nats-sync, file
// storage with sync_always).
//
// Child processes run in their own process group with SIGKILL as their
// parent-death signal; on exit or interrupt they are stopped and the temporary
// directory is removed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/streamd/streamd/core/bench"
)

// options are the command-line flags.
type options struct {
	systems      []string
	duration     time.Duration
	warmup       time.Duration
	latencyDur   time.Duration
	latencyWarm  time.Duration
	latencyRate  float64
	recordSize   int
	partitions   int32
	concurrency  int
	diskDuration time.Duration
	dataDir      string
	repo         string
	streamdBin   string
	out          string
	quiet        bool
	rounds       int
	clientGOGC   int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		os.Exit(runChild(os.Args[2:]))
	}
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("peerbench", flag.ContinueOnError)
	systems := fs.String("systems", "streamd,kfake,nats", "systems to run: streamd, kfake (= kfake-async,kfake-sync), nats (= nats-async,nats-sync) or single variants")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of the measured peak produce run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "length of the warm-up produce run before it")
	fs.DurationVar(&o.latencyDur, "latency-duration", 8*time.Second, "length of the fixed-rate latency run")
	fs.DurationVar(&o.latencyWarm, "latency-warmup", 2*time.Second, "the latency run's client first produces at the same rate for this long, not measured")
	fs.Float64Var(&o.latencyRate, "latency-rate", 0, "records/s of the latency run; 0 = half the peak of the first system run (streamd when selected)")
	fs.IntVar(&o.recordSize, "record-size", 1024, "record value size in bytes")
	partitions := fs.Int("partitions", 3, "partitions of the benchmark topics (NATS: subjects)")
	fs.IntVar(&o.concurrency, "concurrency", 1, "producer clients per Kafka run")
	fs.DurationVar(&o.diskDuration, "disk-duration", 2*time.Second, "length of each of the disk ceiling measurements")
	fs.StringVar(&o.dataDir, "data-dir", os.TempDir(), "directory under which a temporary data directory is created (and the disk is measured)")
	fs.StringVar(&o.repo, "repo", ".", "repository root to build ./cmd/streamd in")
	fs.StringVar(&o.streamdBin, "streamd-bin", "", "use this streamd binary instead of building one")
	fs.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	fs.BoolVar(&o.quiet, "quiet", false, "no per-second progress lines on stderr")
	fs.IntVar(&o.clientGOGC, "client-gogc", 400, "GOGC of the load generator (this process only; every broker keeps its own default): at Go's default of 100 its garbage collector, not the broker, bounds the read-back; a second read-back at 100 is reported too")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds over all systems, each in a rotated order; each system's best round per metric is reported, and every round")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.systems, err = expandSystems(*systems); err != nil {
		return o, err
	}
	o.partitions = int32(*partitions)
	if o.duration <= 0 || o.latencyDur <= 0 || o.warmup < 0 || o.latencyWarm < 0 || o.recordSize <= 0 || o.partitions <= 0 ||
		o.concurrency <= 0 || o.latencyRate < 0 || o.diskDuration <= 0 || o.clientGOGC <= 0 {
		return o, errors.New("durations, sizes and counts must be positive")
	}
	return o, nil
}

// variants lists every system variant in run order: streamd first, so its
// peak sets the rate of everyone's latency run.
var variants = []string{"streamd", "kfake-async", "kfake-sync", "nats-async", "nats-sync"}

func expandSystems(list string) ([]string, error) {
	want := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		switch s = strings.TrimSpace(strings.ToLower(s)); s {
		case "":
		case "kfake", "nats":
			want[s+"-async"], want[s+"-sync"] = true, true
		default:
			if !slices.Contains(variants, s) {
				return nil, fmt.Errorf("unknown system %q (want streamd, kfake, nats or one of %s)", s, strings.Join(variants, ", "))
			}
			want[s] = true
		}
	}
	var out []string
	for _, v := range variants {
		if want[v] {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no systems selected")
	}
	return out, nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Not through the environment: the brokers started as children keep Go's default.
	debug.SetGCPercent(o.clientGOGC)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	base, err := os.MkdirTemp(o.dataDir, "peerbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	var progress io.Writer = os.Stderr
	if o.quiet {
		progress = nil
	}

	rep := report{opts: o, started: time.Now(), machine: describeMachine(base)}
	log.Info("measuring disk ceiling", "dir", base)
	if rep.disk, err = measureDisk(ctx, filepath.Join(base, "disk"), o.diskDuration, int(o.partitions)); err != nil {
		return err
	}

	rate := o.latencyRate
	// Several rounds in rotated orders: on these VMs whatever runs first pays for
	// memory touched for the first time, so no system should always go first.
	all := map[string][]measurement{}
	for round := range max(o.rounds, 1) {
		for i := range o.systems {
			name := o.systems[(i+round)%len(o.systems)]
			if ctx.Err() != nil {
				break
			}
			m := measureSystem(ctx, log, o, name, base, &rate, progress)
			m.round = round + 1
			if m.err != nil {
				log.Error("system failed", "system", name, "round", round, "err", m.err)
			}
			all[name] = append(all[name], m)
		}
	}
	for _, name := range o.systems {
		if ms := all[name]; len(ms) > 0 {
			rep.results = append(rep.results, bestOf(ms))
			rep.rounds = append(rep.rounds, ms...)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.latencyRate = rate

	w := io.Writer(os.Stdout)
	if o.out != "" {
		f, err := os.Create(o.out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	return rep.write(w)
}

// goDefaultGOGC is Go's default GOGC.
const goDefaultGOGC = 100

// measurement is everything measured for one system (in one round, or the
// best of its rounds).
type measurement struct {
	system                   string
	round                    int // 1-based; 0 for a best-of-rounds summary
	warm, peak, read, latRun bench.Result
	readDefaultGC            bench.Result // a second read-back with the load generator at GOGC=100
	latFlushes               slowEvents   // streamd's log flushes during latRun
	latSched                 slowEvents   // streamd's goroutines' waits for a CPU during latRun (sampled)
	latClientSched           slowEvents   // the load generator's goroutines' waits (sampled)
	latProduce               slowEvents   // streamd's Produce requests during latRun, read to answered
	hwm, rss                 int64        // bytes, from /proc/<pid>/status
	err                      error
}

// bestOf combines one system's rounds into the reported measurement: per
// metric the best round without an error (the highest peak produce, with
// that run's latencies; the highest read-back, and the highest at GOGC=100;
// the latency run with the lowest p99, with that run's rate, p50, p99.9 and
// events over 10 ms) and, for memory, the highest of all rounds. When every
// round failed it is the last one.
func bestOf(ms []measurement) measurement {
	var ok []measurement
	for _, m := range ms {
		if m.err == nil {
			ok = append(ok, m)
		}
	}
	if len(ok) == 0 {
		return ms[len(ms)-1]
	}
	b := ok[0]
	b.round = 0
	for _, m := range ok[1:] {
		if m.peak.MiBps > b.peak.MiBps {
			b.warm, b.peak = m.warm, m.peak
		}
		if m.read.MiBps > b.read.MiBps {
			b.read = m.read
		}
		if m.readDefaultGC.MiBps > b.readDefaultGC.MiBps {
			b.readDefaultGC = m.readDefaultGC
		}
		if m.latRun.P99 > 0 && (b.latRun.P99 == 0 || m.latRun.P99 < b.latRun.P99) {
			b.latRun, b.latFlushes, b.latSched, b.latClientSched, b.latProduce = m.latRun, m.latFlushes, m.latSched, m.latClientSched, m.latProduce
		}
		b.hwm, b.rss = max(b.hwm, m.hwm), max(b.rss, m.rss)
	}
	return b
}

// workload is one client workload implementation (kgo or nats.go).
type workload interface {
	produce(ctx context.Context, topic string, d, warmup time.Duration, rate float64, progress io.Writer) (bench.Result, error)
	consume(ctx context.Context, topic string, records int64, timeout time.Duration, progress io.Writer) (bench.Result, error)
}

// measureSystem starts one broker and runs the whole sequence against it.
// *rate is the latency-run rate; when 0, this system's peak sets it.
func measureSystem(ctx context.Context, log *slog.Logger, o options, name, base string, rate *float64, progress io.Writer) (m measurement) {
	m.system = name
	dir := filepath.Join(base, name)
	log.Info("starting broker", "system", name)
	b, err := startBroker(ctx, o, name, dir)
	if err != nil {
		m.err = err
		return m
	}
	defer func() {
		// Memory is read last (and also after a failed step), before stopping.
		var err error
		if m.hwm, m.rss, err = b.memory(); err != nil && m.err == nil {
			m.err = err
		}
		if err := b.stop(); err != nil && m.err == nil {
			log.Warn("broker did not stop cleanly", "system", name, "err", err)
		}
		os.RemoveAll(dir)
	}()
	w := b.workload(o)
	label := func(step string) io.Writer { return prefixed(progress, name+" "+step+": ") }

	step := func(what string, f func() (bench.Result, error)) (bench.Result, bool) {
		r, err := f()
		if err != nil {
			m.err = fmt.Errorf("%s: %w (broker log: %s)", what, err, b.logTail())
			return r, false
		}
		log.Info(what, "system", name, "result", r.String())
		return r, true
	}
	var ok bool
	if o.warmup > 0 {
		if m.warm, ok = step("warm-up", func() (bench.Result, error) {
			return w.produce(ctx, "bench", o.warmup, 0, 0, label("warm-up"))
		}); !ok {
			return m
		}
	}
	if m.peak, ok = step("peak produce", func() (bench.Result, error) {
		return w.produce(ctx, "bench", o.duration, 0, 0, label("peak"))
	}); !ok {
		return m
	}
	if *rate == 0 {
		*rate = m.peak.RecordsPerSec / 2
	}
	total := m.warm.Records + m.peak.Records
	// readBack reads everything produced to bench; reading less is a failure.
	readBack := func(what, lbl string) (bench.Result, bool) {
		r, ok := step(what, func() (bench.Result, error) {
			return w.consume(ctx, "bench", total, 2*o.duration+30*time.Second, label(lbl))
		})
		if ok && r.Records < total {
			m.err = fmt.Errorf("%s read %d of %d records", what, r.Records, total)
			ok = false
		}
		return r, ok
	}
	if m.read, ok = readBack("consume", "read-back"); !ok {
		return m
	}
	m.readDefaultGC = m.read
	if o.clientGOGC != goDefaultGOGC {
		old := debug.SetGCPercent(goDefaultGOGC)
		m.readDefaultGC, ok = readBack("consume at GOGC=100", "read-back, GOGC=100")
		debug.SetGCPercent(old)
		if !ok {
			return m
		}
	}
	// What took over 10 ms during the run: streamd's Produce requests, log
	// flushes and goroutine waits for a CPU (from its metrics), and the load
	// generator's own goroutine waits.
	var before brokerHists
	scrapeErr := errors.New("not streamd")
	if b.admin != "" {
		if before, scrapeErr = scrapeBrokerHists(ctx, b.admin); scrapeErr != nil {
			log.Warn("cannot read the broker's histograms", "system", name, "err", scrapeErr)
		}
	}
	clientBefore, clientErr := clientSchedHist()
	m.latRun, _ = step("latency run", func() (bench.Result, error) {
		return w.produce(ctx, "bench-latency", o.latencyDur, o.latencyWarm, *rate, label("latency"))
	})
	if clientErr == nil {
		var after histogram
		if after, clientErr = clientSchedHist(); clientErr == nil {
			m.latClientSched, clientErr = slowBetween(clientBefore, after)
		}
	}
	if clientErr != nil {
		log.Warn("cannot read the load generator's scheduler latencies", "err", clientErr)
	}
	if scrapeErr == nil {
		after, err := scrapeBrokerHists(ctx, b.admin)
		if err == nil {
			m.latFlushes, err = slowBetween(before.flush, after.flush)
		}
		if err == nil {
			m.latSched, err = slowBetween(before.sched, after.sched)
		}
		if err == nil {
			m.latProduce, err = slowBetween(before.produce, after.produce)
		}
		if err != nil {
			log.Warn("cannot read the broker's histograms", "system", name, "err", err)
		}
	}
	return m
}

// prefixed returns a writer that prefixes every write (one progress line)
// with p, or nil when w is nil.
func prefixed(w io.Writer, p string) io.Writer {
	if w == nil {
		return nil
	}
	return prefixWriter{w, p}
}

type prefixWriter struct {
	w io.Writer
	p string
}

func (pw prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(pw.w, pw.p+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
