package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/streamd/streamd/core/cli"
)

func newGroupCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	c := group(&cobra.Command{
		Use:   "group",
		Short: "List, describe, reset and delete consumer groups; set their assignor",
	})
	c.PersistentFlags().DurationVar(&timeout, "timeout", cli.DefaultTimeout, "how long to wait for the broker")
	env := func(cmd *cobra.Command) (cli.Env, error) { return g.env(cmd, timeout) }

	list := &cobra.Command{
		Use:   "list",
		Short: "List groups: name, state, protocol type, kind (classic, or consumer for KIP-848)",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.ListGroups(cmd.Context(), e)
		},
	}

	var adminURL string
	describe := &cobra.Command{
		Use:   "describe GROUP [--admin URL]",
		Short: "Show a group's state, protocol, assignor (and which strategy produced the assignment, or why the broker refused one), members and per-partition offsets and lag",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.DescribeGroup(cmd.Context(), e, a[0], adminURL)
		},
	}
	describe.Flags().StringVar(&adminURL, "admin", cli.DefaultAdminURL, "streamd admin HTTP listener asked which strategy produced a classic group's assignment and for the assignor's last error (empty: skip)")

	setAssignor := &cobra.Command{
		Use:   "set-assignor GROUP NAME",
		Short: "Let the broker assign partitions with NAME (range, roundrobin, sticky, cooperative-sticky, uniform, wasm:PLUGIN; none: the leader member assigns)",
		Args:  args(2, 2),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.SetGroupAssignor(cmd.Context(), e, a[0], a[1])
		},
	}

	var (
		topic    string
		to       cli.ResetTo
		toOffset int64
	)
	reset := &cobra.Command{
		Use:   "reset-offsets GROUP --topic TOPIC (--to-earliest | --to-latest | --to-offset N | --to-datetime RFC3339)",
		Short: "Move an inactive group's committed offsets of a topic",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("to-offset") {
				to.Offset = &toOffset
			}
			return cli.ResetOffsets(cmd.Context(), e, a[0], topic, to)
		},
	}
	reset.Flags().StringVar(&topic, "topic", "", "topic whose offsets to reset (required)")
	reset.Flags().BoolVar(&to.Earliest, "to-earliest", false, "reset to each partition's start offset")
	reset.Flags().BoolVar(&to.Latest, "to-latest", false, "reset to each partition's end offset")
	reset.Flags().Int64Var(&toOffset, "to-offset", 0, "reset to this offset (clamped to each partition's range)")
	reset.Flags().StringVar(&to.Datetime, "to-datetime", "", "reset to the first offset at or after this RFC 3339 time")
	_ = reset.MarkFlagRequired("topic")

	del := &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete an empty group and its committed offsets",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.DeleteGroup(cmd.Context(), e, a[0])
		},
	}

	c.AddCommand(list, describe, setAssignor, reset, del)
	return c
}
