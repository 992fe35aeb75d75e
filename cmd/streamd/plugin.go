package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/streamd/streamd/core/cli"
)

func newPluginCmd() *cobra.Command {
	var (
		adminURL string
		timeout  time.Duration
	)
	c := group(&cobra.Command{
		Use:   "plugin",
		Short: "Build, upload, list, describe and delete Wasm plugins (partitioners, assignors, transforms)",
	})
	c.PersistentFlags().StringVar(&adminURL, "admin", cli.DefaultAdminURL, "streamd admin HTTP listener")
	c.PersistentFlags().DurationVar(&timeout, "timeout", cli.DefaultTimeout, "how long to wait for the admin listener")
	env := func(cmd *cobra.Command) cli.Env {
		return cli.Env{Timeout: timeout, Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
	}
	// --brokers does not apply: these commands talk to the admin listener only.
	c.SetHelpFunc(func(cmd *cobra.Command, a []string) {
		if fl := cmd.Root().PersistentFlags().Lookup("brokers"); fl != nil {
			fl.Hidden = true
		}
		cmd.Root().HelpFunc()(cmd, a)
	})

	var kind string
	upload := &cobra.Command{
		Use:   "upload NAME FILE.wasm --kind partitioner|assignor|transform",
		Short: "Upload a module as plugin NAME (a new version if NAME exists; its users switch to it at once)",
		Args:  args(2, 2),
		RunE: func(cmd *cobra.Command, a []string) error {
			return cli.UploadPlugin(cmd.Context(), env(cmd), adminURL, a[0], a[1], kind)
		},
	}
	upload.Flags().StringVar(&kind, "kind", "", "partitioner, assignor or transform (required)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List plugins: name, kind, version, sha256, size, where used",
		Args:  args(0, 0),
		RunE: func(cmd *cobra.Command, a []string) error {
			return cli.ListPlugins(cmd.Context(), env(cmd), adminURL)
		},
	}
	describe := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a plugin's kind, versions, sha256, size, upload time and users",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return cli.DescribePlugin(cmd.Context(), env(cmd), adminURL, a[0])
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a plugin and all its versions (refused while a topic or group uses it)",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return cli.DeletePlugin(cmd.Context(), env(cmd), adminURL, a[0])
		},
	}
	var out string
	build := &cobra.Command{
		Use:   "build DIR -o FILE.wasm",
		Short: "Build the Go plugin in DIR (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared)",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return cli.BuildPlugin(cmd.Context(), env(cmd), a[0], out)
		},
	}
	build.Flags().StringVarP(&out, "output", "o", "", "module file to write (required)")
	c.AddCommand(upload, list, describe, del, build)
	return c
}
