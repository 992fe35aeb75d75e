package main

import (
	"github.com/spf13/cobra"

	"github.com/streamd/streamd/core/cli"
)

func newConsumeCmd(g *globals) *cobra.Command {
	var o cli.ConsumeOptions
	c := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records of a topic",
		Long: `Print records of a topic, by default from the latest offset until interrupted.

Format verbs: %t topic, %p partition, %o offset, %k key, %v value,
%T timestamp (Unix ms), %h headers (k1=v1,k2=v2), %K key length,
%S value length, %% a literal %; escapes \n \r \t \\.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := g.env(cmd, 0)
			if err != nil {
				return err
			}
			o.Topic = a[0]
			return cli.Consume(cmd.Context(), e, o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.FromBeginning, "from-beginning", false, "start at the earliest offset")
	f.StringVar(&o.Offset, "offset", "", "start `OFFSET`: earliest, latest, N or -N (N before the end) (default latest)")
	f.Int32SliceVar(&o.Partitions, "partition", nil, "read only partition `N` (repeatable or comma-separated; default all)")
	f.Int64VarP(&o.Count, "count", "n", 0, "exit after this many records")
	f.DurationVar(&o.Idle, "timeout", 0, "exit after this long without a record (default: run until interrupted)")
	f.StringVarP(&o.Format, "format", "f", "", "record `FORMAT` (default %v\\n, see above)")
	f.StringVarP(&o.Group, "group", "g", "", "consume as a member of this consumer group and commit what was printed")
	return c
}
