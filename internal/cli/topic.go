package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newTopicCommand returns `arus topic` and its subcommands.
func newTopicCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe and delete topics",
		Long: `Manage topics on a running arus (or any Kafka) cluster.

The subcommands talk to the cluster over the Kafka protocol, the same way any
client would. Use --bootstrap-server (or $ARUS_BOOTSTRAP) to pick the cluster.

Examples:
  arus topic create orders --partitions 6 --replication-factor 3
  arus topic list
  arus topic describe orders
  arus topic delete orders`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(
		newTopicCreateCommand(),
		newTopicListCommand(),
		newTopicDescribeCommand(),
		newTopicDeleteCommand(),
		newTopicReassignCommand(),
		newTopicAlterConfigCommand(),
		newTopicAddPartitionsCommand(),
		newTopicDeleteRecordsCommand(),
	)
	return cmd
}

func newTopicCreateCommand() *cobra.Command {
	var (
		partitions        int32
		replicationFactor int16
		configs           []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Long: `Create a topic with a number of partitions, a replication factor and
optional topic configs.

Leaving --partitions or --replication-factor at -1 lets the broker use its
defaults (num.partitions and default.replication.factor). If the broker
rejects the request (an invalid name, an unknown config, too few brokers for
the replication factor), its error message is printed.

Examples:
  arus topic create orders --partitions 6 --replication-factor 3
  arus topic create audit --config cleanup.policy=compact --config retention.ms=-1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			cfg, err := parseTopicConfigs(configs)
			if err != nil {
				return err
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			resp, err := adm.CreateTopic(commandContext(cmd), partitions, replicationFactor, cfg, topic)
			if err != nil {
				if errors.Is(err, kerr.TopicAlreadyExists) {
					return fmt.Errorf("topic %q already exists", topic)
				}
				return fmt.Errorf("create topic %q: %w", topic, kafkaError(err, resp.ErrMessage))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created topic %q (%s partitions, replication factor %s)\n",
				topic, orBrokerDefault(int64(resp.NumPartitions), int64(partitions)),
				orBrokerDefault(int64(resp.ReplicationFactor), int64(replicationFactor)))
			return nil
		},
	}
	cmd.Flags().Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: broker default)")
	cmd.Flags().Int16VarP(&replicationFactor, "replication-factor", "r", -1, "copies of each partition (-1: broker default)")
	cmd.Flags().StringArrayVarP(&configs, "config", "c", nil, "topic config key=value (repeatable)")
	return cmd
}

// orBrokerDefault renders the value the broker reported, falling back to
// what was requested when an old broker does not report it.
func orBrokerDefault(reported, requested int64) string {
	switch {
	case reported > 0:
		return strconv.FormatInt(reported, 10)
	case requested > 0:
		return strconv.FormatInt(requested, 10)
	}
	return "broker default"
}

// parseTopicConfigs turns repeated --config key=value into what CreateTopics
// takes. A key given twice keeps the last value.
func parseTopicConfigs(pairs []string) (map[string]*string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	cfg := make(map[string]*string, len(pairs))
	for _, pair := range pairs {
		key, value, err := parseKeyValue("config", pair)
		if err != nil {
			return nil, err
		}
		cfg[key] = &value
	}
	return cfg, nil
}

func newTopicListCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List topics with their partition count and replication factor",
		Long: `List the topics of the cluster, sorted by name, with their number of
partitions and replication factor. Internal topics (such as
__consumer_offsets) are hidden unless --all is given.

Examples:
  arus topic list
  arus topic list --all -b broker1:9092`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			topics, err := kadm.NewClient(cl).ListTopicsWithInternal(commandContext(cmd))
			if err != nil {
				return fmt.Errorf("list topics: %w", err)
			}
			return writeTopicList(cmd.OutOrStdout(), topics, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include internal topics")
	return cmd
}

// writeTopicList prints one row per topic as an aligned table.
func writeTopicList(w io.Writer, topics kadm.TopicDetails, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tREPLICATION-FACTOR")
	for _, name := range topics.Names() {
		detail := topics[name]
		if detail.IsInternal && !all {
			continue
		}
		if detail.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t(%v)\n", name, detail.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", name, len(detail.Partitions), replicationFactorOf(detail))
	}
	return tw.Flush()
}

// replicationFactorOf returns the largest replica count over the topic's
// partitions (they are equal unless a reassignment is in flight).
func replicationFactorOf(detail kadm.TopicDetail) int {
	rf := 0
	for _, p := range detail.Partitions {
		rf = max(rf, len(p.Replicas))
	}
	return rf
}

func newTopicDescribeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a topic's partitions, offsets and non-default configs",
		Long: `Describe one topic: for every partition its leader, replicas, in-sync
replicas (ISR) and log start/end offsets, then the topic's configs that are
not at their default, with where each value comes from (set on the topic, or
inherited from broker settings).

Examples:
  arus topic describe orders
  arus topic describe orders -b localhost:9092`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := commandContext(cmd)
			adm := kadm.NewClient(cl)
			detail, err := lookupTopic(ctx, adm, topic)
			if err != nil {
				return err
			}
			desc := topicDescription{Detail: detail}
			// Offsets and configs are best effort: the partition layout is
			// still worth printing when a broker cannot answer these.
			if desc.Starts, err = adm.ListStartOffsets(ctx, topic); err != nil {
				desc.OffsetsErr = err
			}
			if desc.Ends, err = adm.ListEndOffsets(ctx, topic); err != nil {
				desc.OffsetsErr = err
			}
			configs, err := adm.DescribeTopicConfigs(ctx, topic)
			if err == nil {
				var rc kadm.ResourceConfig
				rc, err = configs.On(topic, nil)
				if err == nil && rc.Err != nil {
					err = kafkaError(rc.Err, rc.ErrMessage)
				}
				desc.Configs = rc.Configs
			}
			desc.ConfigsErr = err
			return desc.write(cmd.OutOrStdout())
		},
	}
	return cmd
}

// topicDescription is everything `topic describe` prints.
type topicDescription struct {
	Detail     kadm.TopicDetail
	Starts     kadm.ListedOffsets // log start offsets; nil if OffsetsErr
	Ends       kadm.ListedOffsets // log end offsets (high watermarks); nil if OffsetsErr
	OffsetsErr error
	Configs    []kadm.Config
	ConfigsErr error
}

func (d topicDescription) write(w io.Writer) error {
	topic := d.Detail.Topic
	fmt.Fprintf(w, "Topic: %s\tPartitions: %d\tReplication factor: %d", topic,
		len(d.Detail.Partitions), replicationFactorOf(d.Detail))
	if d.Detail.IsInternal {
		fmt.Fprint(w, "\tInternal: true")
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tISR\tLOG-START\tLOG-END")
	for _, p := range d.Detail.Partitions.Sorted() {
		leader := strconv.Itoa(int(p.Leader))
		if p.Leader < 0 {
			leader = "none"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s", p.Partition, leader,
			formatBrokers(p.Replicas), formatBrokers(p.ISR),
			formatListedOffset(d.Starts, topic, p.Partition),
			formatListedOffset(d.Ends, topic, p.Partition))
		if p.Err != nil {
			fmt.Fprintf(tw, "\t(%v)", p.Err)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if d.OffsetsErr != nil {
		fmt.Fprintf(w, "(offsets unavailable: %v)\n", d.OffsetsErr)
	}

	if d.ConfigsErr != nil {
		fmt.Fprintf(w, "Configs: unavailable: %v\n", d.ConfigsErr)
		return nil
	}
	var set []kadm.Config
	for _, c := range d.Configs {
		if c.Source != kmsg.ConfigSourceDefaultConfig {
			set = append(set, c)
		}
	}
	if len(set) == 0 {
		fmt.Fprintln(w, "Configs: all defaults")
		return nil
	}
	sort.Slice(set, func(i, j int) bool { return set[i].Key < set[j].Key })
	fmt.Fprintln(w, "Configs (non-default):")
	for _, c := range set {
		value := c.MaybeValue()
		if c.Sensitive {
			value = "(sensitive)"
		}
		fmt.Fprintf(w, "  %s=%s\t(%s)\n", c.Key, value, configSourceName(c.Source))
	}
	return nil
}

// formatBrokers renders broker ids as "1,2,3".
func formatBrokers(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(int(id))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func formatListedOffset(offsets kadm.ListedOffsets, topic string, partition int32) string {
	o, ok := offsets.Lookup(topic, partition)
	if !ok || o.Err != nil {
		return "?"
	}
	return strconv.FormatInt(o.Offset, 10)
}

// configSourceName says in words where a config value comes from.
func configSourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "set on topic"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "dynamic broker config"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "dynamic cluster default"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "static broker config"
	}
	return strings.ToLower(s.String())
}

func newTopicDeleteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete one or more topics",
		Long: `Delete topics and all their data. Every topic is attempted; the command
fails if any of them could not be deleted (for example because it does not
exist), after reporting each one.

Examples:
  arus topic delete orders
  arus topic delete scratch-1 scratch-2`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			resps, err := kadm.NewClient(cl).DeleteTopics(commandContext(cmd), args...)
			if err != nil {
				return fmt.Errorf("delete topics: %w", err)
			}
			var errs []error
			for _, topic := range args {
				resp, ok := resps[topic]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("delete topic %q: no answer from broker", topic))
				case errors.Is(resp.Err, kerr.UnknownTopicOrPartition):
					errs = append(errs, topicNotFound(topic))
				case resp.Err != nil:
					errs = append(errs, fmt.Errorf("delete topic %q: %w", topic, kafkaError(resp.Err, resp.ErrMessage)))
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %q\n", topic)
				}
			}
			return errors.Join(errs...)
		},
	}
	return cmd
}
