// Command streamd is a Kafka-wire-compatible broker ("streamd serve") and a
// client for it and any other Kafka cluster: topic administration, a console
// producer and consumer, and benchmarks. The logic lives in core/cli and
// core/bench; this package only defines the command line.
//
// Every failure prints exactly one line, "streamd: <what went wrong>", on
// stderr and exits with status 1.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamd/streamd/core/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process as usual.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "streamd: %s\n", oneLine(err.Error()))
		return 1
	}
	return 0
}

// oneLine folds a multi-line error (a broker's message may contain
// newlines) into one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "; ")
}

// globals are the flags every client command shares.
type globals struct {
	brokers string
}

// env builds the cli environment for cmd; timeout 0 means cli.DefaultTimeout.
func (g *globals) env(cmd *cobra.Command, timeout time.Duration) (cli.Env, error) {
	brokers, err := cli.ParseBrokers(g.brokers)
	if err != nil {
		return cli.Env{}, err
	}
	return cli.Env{
		Brokers: brokers,
		Timeout: timeout,
		Stdin:   cmd.InOrStdin(),
		Stdout:  cmd.OutOrStdout(),
		Stderr:  cmd.ErrOrStderr(),
	}, nil
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "streamd",
		Short:         "Kafka-wire-compatible broker and client",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.brokers, "brokers", "localhost:9092", "comma-separated seed brokers (host:port)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%v (see '%s --help')", err, cmd.CommandPath())
	})
	root.AddCommand(
		newServeCmd(),
		newTopicCmd(g),
		newGroupCmd(g),
		newProduceCmd(g),
		newConsumeCmd(g),
		newBenchCmd(g),
		newPluginCmd(),
	)
	return root
}

// args checks the positional argument count against [lo, hi] (hi < 0:
// unbounded) and names the usage line when it is wrong.
func args(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) < lo || (hi >= 0 && len(a) > hi) {
			return fmt.Errorf("wrong number of arguments; usage: %s", cmd.UseLine())
		}
		return nil
	}
}

// group makes a command that only holds subcommands: run bare it prints its
// help, with an unknown subcommand it fails.
func group(c *cobra.Command) *cobra.Command {
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, a []string) error {
		if len(a) > 0 {
			return fmt.Errorf("unknown command %q for %q (see '%s --help')", a[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return cmd.Help()
	}
	return c
}
