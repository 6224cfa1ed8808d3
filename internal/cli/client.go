package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file holds what the client subcommands (topic, produce, consume,
// bench) share: the --bootstrap-server flag, building a franz-go client,
// and parsing of flag values that more than one command accepts.

const (
	// bootstrapFlag is the persistent flag naming the brokers to contact first.
	bootstrapFlag = "bootstrap-server"
	// bootstrapEnv overrides the default of bootstrapFlag when the flag is
	// not given on the command line.
	bootstrapEnv = "ARUS_BOOTSTRAP"
	// defaultBootstrap is used when neither the flag nor bootstrapEnv is set.
	defaultBootstrap = "localhost:9092"

	// connectTimeout bounds the first round trip to the cluster, so that a
	// wrong address fails in seconds instead of hanging in client retries.
	connectTimeout = 10 * time.Second
)

// addClientFlags adds --bootstrap-server/-b to cmd as a persistent flag, so
// subcommands inherit it. Calling it again on the same command, or on a
// parent that already has it, is harmless.
func addClientFlags(cmd *cobra.Command) {
	if cmd.PersistentFlags().Lookup(bootstrapFlag) != nil {
		return
	}
	cmd.PersistentFlags().StringP(bootstrapFlag, "b", defaultBootstrap,
		"comma-separated host:port list of brokers to bootstrap from (env "+bootstrapEnv+")")
	addSecurityFlags(cmd)
}

// bootstrapServers returns the seed brokers for cmd: the flag if it was set
// on the command line, else $ARUS_BOOTSTRAP, else localhost:9092.
func bootstrapServers(cmd *cobra.Command) []string {
	value := defaultBootstrap
	flag := cmd.Flag(bootstrapFlag)
	switch {
	case flag != nil && flag.Changed:
		value = flag.Value.String()
	case os.Getenv(bootstrapEnv) != "":
		value = os.Getenv(bootstrapEnv)
	case flag != nil:
		value = flag.Value.String()
	}
	var seeds []string
	for _, s := range strings.Split(value, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// newClient builds a franz-go client for the brokers named by cmd's
// --bootstrap-server and checks that one of them answers, so that an unusable
// address is reported up front rather than as a stream of retries. opts are
// applied after the seed brokers.
func newClient(cmd *cobra.Command, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds := bootstrapServers(cmd)
	if len(seeds) == 0 {
		return nil, errors.New("no bootstrap server given: use --bootstrap-server host:port")
	}
	security, err := securityOptions(cmd)
	if err != nil {
		return nil, err
	}
	all := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(connectTimeout),
	}, security...)
	all = append(all, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("configure client: %w", err)
	}
	ctx, cancel := context.WithTimeout(commandContext(cmd), connectTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("cannot reach broker at %s: %w", strings.Join(seeds, ","), err)
	}
	return cl, nil
}

// commandContext returns cmd's context, or Background when the command was
// run without one (cobra leaves it nil for a bare Execute in some paths).
func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// errTopicNotFound is wrapped into errors for topics the cluster does not
// know, so callers and tests can branch on it.
var errTopicNotFound = errors.New("does not exist")

// topicNotFound returns the user-facing error for a missing topic.
func topicNotFound(topic string) error {
	return fmt.Errorf("topic %q %w", topic, errTopicNotFound)
}

// lookupTopic returns the metadata of one topic, or an error that says
// plainly that it does not exist.
func lookupTopic(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicDetail, error) {
	topics, err := adm.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		return kadm.TopicDetail{}, fmt.Errorf("metadata for topic %q: %w", topic, err)
	}
	detail, ok := topics[topic]
	if !ok || errors.Is(detail.Err, kerr.UnknownTopicOrPartition) {
		return kadm.TopicDetail{}, topicNotFound(topic)
	}
	if detail.Err != nil {
		return kadm.TopicDetail{}, fmt.Errorf("metadata for topic %q: %w", topic, detail.Err)
	}
	return detail, nil
}

// kafkaError formats an error returned by the broker together with the
// optional free-text message the broker attached to it (for example why a
// topic name or config was rejected).
func kafkaError(err error, message string) error {
	if message == "" || strings.Contains(err.Error(), message) {
		return err
	}
	return fmt.Errorf("%w (broker says: %s)", err, message)
}

// parseAcks maps the --acks flag to franz-go. Anything but "all" also
// disables idempotent writes, which Kafka requires acks=all for.
func parseAcks(s string) ([]kgo.Opt, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "all", "-1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case "1", "leader":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, nil
	case "0", "none":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}, nil
	}
	return nil, fmt.Errorf("invalid --acks %q: want all, 1 or 0", s)
}

// parseCompression maps the --compression flag to a franz-go codec.
func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("invalid --compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// parseKeyValue splits "key=value" at the first '='. The key must not be
// empty; the value may be.
func parseKeyValue(flagName, s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return "", "", fmt.Errorf("invalid --%s %q: want key=value", flagName, s)
	}
	return key, value, nil
}

// errWriter returns where a command writes diagnostics and summaries.
func errWriter(cmd *cobra.Command) io.Writer { return cmd.ErrOrStderr() }
