package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/streamd/streamd/core/cli"
)

func newTopicCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	c := group(&cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete topics",
	})
	c.PersistentFlags().DurationVar(&timeout, "timeout", cli.DefaultTimeout, "how long to wait for the broker")
	env := func(cmd *cobra.Command) (cli.Env, error) { return g.env(cmd, timeout) }

	var (
		partitions int32
		replicas   int16
		configs    []string
	)
	create := &cobra.Command{
		Use:   "create NAME -p PARTITIONS [-r REPLICAS] [-c key=value ...]",
		Short: "Create a topic",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.CreateTopic(cmd.Context(), e, a[0], partitions, replicas, configs)
		},
	}
	create.Flags().Int32VarP(&partitions, "partitions", "p", 0, "number of partitions (required)")
	create.Flags().Int16VarP(&replicas, "replication-factor", "r", 1, "replication factor")
	create.Flags().StringArrayVarP(&configs, "config", "c", nil, "topic config key=value (repeatable)")
	_ = create.MarkFlagRequired("partitions")

	list := &cobra.Command{
		Use:   "list",
		Short: "List topics: name, partitions, internal flag",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.ListTopics(cmd.Context(), e)
		},
	}

	var adminURL string
	describe := &cobra.Command{
		Use:   "describe NAME [--admin URL]",
		Short: "Show a topic's id, partitions (leader, epoch, offsets, size; segments and cleaner stats from a streamd admin listener) and configs",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.DescribeTopic(cmd.Context(), e, a[0], adminURL)
		},
	}
	describe.Flags().StringVar(&adminURL, "admin", cli.DefaultAdminURL, "streamd admin HTTP listener for segment and cleaner columns (empty: skip)")

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.DeleteTopic(cmd.Context(), e, a[0])
		},
	}

	var remove []string
	alter := &cobra.Command{
		Use:   "alter-config NAME [key=value ...] [--delete key ...]",
		Short: "Set or remove topic configs (IncrementalAlterConfigs)",
		Args:  args(1, -1),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := env(cmd)
			if err != nil {
				return err
			}
			return cli.AlterTopicConfig(cmd.Context(), e, a[0], a[1:], remove)
		},
	}
	alter.Flags().StringArrayVar(&remove, "delete", nil, "config key to remove, reverting it to its default (repeatable)")

	c.AddCommand(create, list, describe, del, alter)
	return c
}
