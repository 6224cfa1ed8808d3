// Package cli implements the arus command line: `arus` (serve, the
// default), and the client subcommands topic, produce, consume and bench,
// which talk to any Kafka-compatible cluster through franz-go.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "arus:", err)
		}
		return 1
	}
	return 0
}

// errSilent is returned by commands that already reported their failure.
var errSilent = errors.New("failed")

func newRootCommand() *cobra.Command {
	opts := &serveOptions{}
	root := &cobra.Command{
		Use:   "arus",
		Short: "arus: a Kafka-compatible streaming platform in one binary",
		Long: `arus is a distributed commit log that speaks the Apache Kafka wire protocol,
so existing Kafka clients and tools work with it unchanged.

Run with no arguments to start a one-node cluster: clients connect to
localhost:9092 and data is kept in ./arus-data. The same binary also
manages topics, produces, consumes and benchmarks any Kafka-compatible
cluster.`,
		Example: `  arus                                   # start a one-node cluster on localhost:9092
  arus --data-dir /var/lib/arus --listener 0.0.0.0:9092 --advertised-listener broker1:9092
  arus topic create orders --partitions 6
  echo 'k1:hello' | arus produce orders --key-separator :
  arus consume orders --from beginning -e`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), opts)
		},
	}
	addServeFlags(root, opts)
	root.AddCommand(newServeCommand(), newTopicCommand(), newProduceCommand(), newConsumeCommand(), newGroupCommand(), newTxnCommand(), newBenchCommand(), newDevCommand(), newClusterCommand(), newConsoleCommand(), newLogDirsCommand(), newConfigCommand(), newACLCommand(), newUserCommand(), newQuotaCommand())
	return root
}
