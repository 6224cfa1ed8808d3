package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/web"
)

func newConsoleCommand() *cobra.Command {
	var listener, bootstrap, logLevel string
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Serve the web console for any Kafka-compatible cluster",
		Long: `Serve arus's web console (cluster overview, topics, a message browser,
consumer groups with lag, live throughput) for a cluster reached through
the Kafka protocol: arus, Apache Kafka, or anything that speaks it. A
broker started with --http-listener serves the same console itself; this
command is for a cluster you do not run with arus, or a console on
another machine.`,
		Example: `  arus console --bootstrap localhost:9092
  arus console --bootstrap kafka1:9092,kafka2:9092 --http-listener 0.0.0.0:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			seeds := bootstrapServers(cmd)
			if bootstrap != "" {
				seeds = nil
				for _, s := range strings.Split(bootstrap, ",") {
					if s = strings.TrimSpace(s); s != "" {
						seeds = append(seeds, s)
					}
				}
			}
			return runConsole(cmd.Context(), cmd, seeds, listener, logLevel)
		},
	}
	addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&bootstrap, "bootstrap", "", "host:port list of brokers to bootstrap from (same as --bootstrap-server)")
	f.StringVar(&listener, "http-listener", envStr("ARUS_HTTP_LISTENER", config.DefaultHTTPListener), "host:port to serve the console on (env ARUS_HTTP_LISTENER)")
	f.StringVar(&logLevel, "log-level", envStr("ARUS_LOG_LEVEL", "info"), "debug, info, warn or error")
	return cmd
}

func runConsole(ctx context.Context, cmd *cobra.Command, seeds []string, listener, logLevel string) error {
	logger, err := newLogger(logLevel, "text")
	if err != nil {
		return err
	}
	if len(seeds) == 0 {
		return fmt.Errorf("no bootstrap server given: use --bootstrap host:port")
	}
	if listener == "" || strings.EqualFold(listener, "off") {
		return fmt.Errorf("--http-listener is off: give the console a host:port to serve on")
	}
	srv, err := web.Listen(web.Config{Listener: listener, Bootstrap: seeds, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "arus console for %s on http://%s/ (Ctrl-C stops it)\n", strings.Join(seeds, ","), srv.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
