package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamd/streamd/core/bench"
	"github.com/streamd/streamd/core/cli"
)

// defaultBenchRecords bounds a bench run given neither --records nor
// --duration.
const defaultBenchRecords = 1_000_000

// defaultBenchGOGC is the load generator's GOGC unless --gogc or the GOGC
// environment variable says otherwise. At Go's default of 100 a kgo consumer
// reading over 1 GB/s spends much of its time zeroing and faulting in the
// fresh buffer kgo allocates for every fetch response (docs/benchmarks.md,
// "The load generator's garbage collector"), so the bench would measure
// itself rather than the broker.
const defaultBenchGOGC = 400

func newBenchCmd(g *globals) *cobra.Command {
	c := group(&cobra.Command{
		Use:   "bench",
		Short: "Measure produce or consume throughput and latency",
	})
	c.PersistentFlags().Int("gogc", defaultBenchGOGC, "GOGC of this process while it runs (Go's default is 100; without this flag a GOGC environment variable wins)")
	c.AddCommand(newBenchProduceCmd(g), newBenchConsumeCmd(g))
	return c
}

// setBenchGOGC applies --gogc (or its default, unless the environment sets
// GOGC) for the run and returns a function that restores the previous value.
func setBenchGOGC(cmd *cobra.Command) (restore func(), err error) {
	gogc, err := cmd.Flags().GetInt("gogc")
	if err != nil {
		return nil, err
	}
	if gogc <= 0 {
		return nil, fmt.Errorf("--gogc %d: must be positive", gogc)
	}
	if !cmd.Flags().Changed("gogc") && os.Getenv("GOGC") != "" {
		return func() {}, nil
	}
	old := debug.SetGCPercent(gogc)
	return func() { debug.SetGCPercent(old) }, nil
}

// benchBounds returns the record and duration bounds: a run given only
// --duration is bounded by time alone.
func benchBounds(cmd *cobra.Command, records int64, d time.Duration) int64 {
	if d > 0 && !cmd.Flags().Changed("records") {
		return 0
	}
	return records
}

func newBenchProduceCmd(g *globals) *cobra.Command {
	var (
		cfg  bench.ProduceConfig
		acks string
	)
	c := &cobra.Command{
		Use:   "produce",
		Short: "Produce fixed-size records as fast as possible (or at --rate)",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			brokers, err := cli.ParseBrokers(g.brokers)
			if err != nil {
				return err
			}
			restore, err := setBenchGOGC(cmd)
			if err != nil {
				return err
			}
			defer restore()
			if cfg.Acks, err = cli.ParseAcks(acks); err != nil {
				return err
			}
			if _, err := cli.ParseCompression(cfg.Compression); err != nil {
				return err
			}
			cfg.Brokers = brokers
			cfg.Records = benchBounds(cmd, cfg.Records, cfg.Duration)
			cfg.Progress = cmd.ErrOrStderr()
			res, err := bench.Produce(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.String())
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Topic, "topic", "streamd-bench", "topic to produce to (created if missing)")
	f.Int32Var(&cfg.Partitions, "partitions", 3, "partitions of the topic if it is created")
	f.IntVar(&cfg.RecordSize, "record-size", 1024, "value size in bytes")
	f.Int64Var(&cfg.Records, "records", defaultBenchRecords, "records to produce (with only --duration: unbounded)")
	f.DurationVar(&cfg.Duration, "duration", 0, "stop after this long")
	f.StringVar(&acks, "acks", "all", "required acks: all, 1 or 0")
	f.StringVar(&cfg.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	f.IntVar(&cfg.Concurrency, "concurrency", 1, "number of producer clients")
	f.DurationVar(&cfg.Linger, "linger", 0, "producer linger (0: kgo's default)")
	f.Int32Var(&cfg.BatchMaxBytes, "batch-max-bytes", 0, "maximum batch size in bytes (0: kgo's default)")
	f.Float64Var(&cfg.RateLimit, "rate", 0, "records per second over all producers (0: unlimited)")
	f.DurationVar(&cfg.Warmup, "warmup", 0, "produce at the same rate for this long before measuring (not counted)")
	return c
}

func newBenchConsumeCmd(g *globals) *cobra.Command {
	var cfg bench.ConsumeConfig
	c := &cobra.Command{
		Use:   "consume",
		Short: "Consume a topic from the start as fast as possible",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			brokers, err := cli.ParseBrokers(g.brokers)
			if err != nil {
				return err
			}
			restore, err := setBenchGOGC(cmd)
			if err != nil {
				return err
			}
			defer restore()
			cfg.Brokers = brokers
			cfg.Records = benchBounds(cmd, cfg.Records, cfg.Duration)
			cfg.Progress = cmd.ErrOrStderr()
			res, err := bench.Consume(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.String())
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Topic, "topic", "streamd-bench", "topic to consume")
	f.Int64Var(&cfg.Records, "records", defaultBenchRecords, "records to consume (with only --duration: unbounded)")
	f.DurationVar(&cfg.Duration, "duration", 0, "stop after this long")
	f.Int32Var(&cfg.FetchMaxBytes, "fetch-max-bytes", 0, "maximum bytes per fetch (0: kgo's default)")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", 10*time.Second, "stop when no record arrives for this long: an error if the topic does not exist or fewer than --records were read (0: wait as long as --duration allows)")
	return c
}
