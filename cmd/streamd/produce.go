package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/streamd/streamd/core/cli"
)

func newProduceCmd(g *globals) *cobra.Command {
	var (
		o       cli.ProduceOptions
		key     string
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce one record per line of stdin",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := g.env(cmd, timeout)
			if err != nil {
				return err
			}
			o.Topic = a[0]
			if cmd.Flags().Changed("key") {
				o.Key = &key
			}
			return cli.Produce(cmd.Context(), e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&key, "key", "", "fixed key for every record")
	f.StringVar(&o.KeySeparator, "key-separator", "", "split each line into key and value at the first SEP")
	f.StringArrayVarP(&o.Headers, "header", "H", nil, "record header key=value (repeatable)")
	f.StringVar(&o.Acks, "acks", "all", "required acks: all, 1 or 0")
	f.Int32Var(&o.Partition, "partition", -1, "target partition (-1: the topic's partitioner)")
	f.StringVar(&o.Admin, "admin", cli.DefaultAdminURL, "streamd admin HTTP listener to download the topic's Wasm partitioner from")
	f.StringVar(&o.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	f.DurationVar(&timeout, "timeout", cli.DefaultTimeout, "how long to wait for the broker and for each record's delivery")
	return c
}
