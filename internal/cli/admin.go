package cli

// Admin commands over the Kafka admin APIs: topic delete-records
// (DeleteRecords), logdirs (DescribeLogDirs), config describe|set
// (DescribeConfigs, IncrementalAlterConfigs on a topic, a broker or the
// cluster-wide broker default) and group lag (committed offsets against
// log end offsets).

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicDeleteRecordsCommand() *cobra.Command {
	var (
		partition int32
		before    int64
	)
	cmd := &cobra.Command{
		Use:   "delete-records TOPIC --before OFFSET [--partition P]",
		Short: "Delete a partition's records below an offset",
		Long: `Delete every record below --before from one partition (--partition) or from
every partition of the topic, with DeleteRecords: the partition's log start
offset moves there, consumers can no longer read below it (they get
OFFSET_OUT_OF_RANGE and reset) and whole segments below it are removed by
the next retention run. --before -1 deletes up to the high watermark (every
committed record). Topics with cleanup.policy=compact only cannot have
records deleted.

Examples:
  arus topic delete-records orders --partition 0 --before 1000
  arus topic delete-records orders --before -1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			if !cmd.Flags().Changed("before") {
				return errors.New("--before is required: the offset to delete below, or -1 for the high watermark")
			}
			if before < -1 {
				return fmt.Errorf("invalid --before %d: want an offset >= 0 or -1 (the high watermark)", before)
			}
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
			var offsets kadm.Offsets
			if cmd.Flags().Changed("partition") {
				if _, ok := detail.Partitions[partition]; !ok {
					return fmt.Errorf("topic %q has no partition %d", topic, partition)
				}
				offsets.Add(kadm.Offset{Topic: topic, Partition: partition, At: before})
			} else {
				for p := range detail.Partitions {
					offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: before})
				}
			}
			resps, err := adm.DeleteRecords(ctx, offsets)
			if err != nil {
				return fmt.Errorf("delete records: %w", err)
			}
			return writeDeleteRecords(cmd.OutOrStdout(), errWriter(cmd), resps)
		},
	}
	cmd.Flags().Int32VarP(&partition, "partition", "p", 0, "partition (default: every partition)")
	cmd.Flags().Int64Var(&before, "before", 0, "delete records below this offset; -1 for the high watermark")
	return cmd
}

func writeDeleteRecords(w, errw io.Writer, resps kadm.DeleteRecordsResponses) error {
	var rows []kadm.DeleteRecordsResponse
	resps.Each(func(r kadm.DeleteRecordsResponse) { rows = append(rows, r) })
	sort.Slice(rows, func(i, j int) bool { return rows[i].Partition < rows[j].Partition })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLOG-START-OFFSET")
	failed := false
	for _, r := range rows {
		if r.Err != nil {
			failed = true
			fmt.Fprintf(errw, "partition %d: %v\n", r.Partition, deleteRecordsError(r.Err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", r.Topic, r.Partition, r.LowWatermark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed {
		return errSilent
	}
	return nil
}

// deleteRecordsError says what a DeleteRecords error means for the user.
func deleteRecordsError(err error) error {
	switch {
	case errors.Is(err, kerr.OffsetOutOfRange):
		return fmt.Errorf("%w (the offset is above the high watermark)", err)
	case errors.Is(err, kerr.PolicyViolation):
		return fmt.Errorf("%w (records of a topic with cleanup.policy=compact cannot be deleted)", err)
	case errors.Is(err, kerr.RequestTimedOut):
		return fmt.Errorf("%w (the leader moved its start, but not every replica followed in time)", err)
	}
	return err
}

func newLogDirsCommand() *cobra.Command {
	var (
		topics  []string
		brokers []int32
	)
	cmd := &cobra.Command{
		Use:   "logdirs",
		Short: "Show each broker's log directory: partitions, sizes and replica lag",
		Long: `Describe the log directories of every broker (or those given by --broker)
with DescribeLogDirs: the directory, its volume's total and free space, and
every partition replica stored there (or of the topics given by --topic)
with its size on disk and how far its log end is behind the partition's
high watermark (non-zero only on a follower that is catching up).

Examples:
  arus logdirs
  arus logdirs --topic orders --broker 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := commandContext(cmd)
			adm := kadm.NewClient(cl)
			var set kadm.TopicsSet
			if len(topics) > 0 {
				details, err := adm.ListTopicsWithInternal(ctx, topics...)
				if err != nil {
					return fmt.Errorf("metadata: %w", err)
				}
				set = kadm.TopicsSet{}
				for _, topic := range topics {
					d, ok := details[topic]
					if !ok || d.Err != nil {
						return topicNotFound(topic)
					}
					for p := range d.Partitions {
						set.Add(topic, p)
					}
				}
			}
			var all kadm.DescribedAllLogDirs
			if len(brokers) == 0 {
				all, err = adm.DescribeAllLogDirs(ctx, set)
			} else {
				all = kadm.DescribedAllLogDirs{}
				for _, id := range brokers {
					dirs, derr := adm.DescribeBrokerLogDirs(ctx, id, set)
					if derr != nil {
						return fmt.Errorf("describe log dirs of broker %d: %w", id, derr)
					}
					all[id] = dirs
				}
			}
			if err != nil {
				return fmt.Errorf("describe log dirs: %w", err)
			}
			return writeLogDirs(cmd.OutOrStdout(), all)
		},
	}
	addClientFlags(cmd)
	cmd.Flags().StringArrayVarP(&topics, "topic", "t", nil, "only partitions of this topic (repeatable)")
	cmd.Flags().Int32SliceVar(&brokers, "broker", nil, "only these brokers (repeatable, or comma-separated)")
	return cmd
}

func writeLogDirs(w io.Writer, all kadm.DescribedAllLogDirs) error {
	var dirs []kadm.DescribedLogDir
	all.Each(func(d kadm.DescribedLogDir) { dirs = append(dirs, d) })
	sort.Slice(dirs, func(i, j int) bool {
		if dirs[i].Broker != dirs[j].Broker {
			return dirs[i].Broker < dirs[j].Broker
		}
		return dirs[i].Dir < dirs[j].Dir
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tDIR\tTOPIC\tPARTITION\tSIZE\tOFFSET-LAG")
	for _, d := range dirs {
		if d.Err != nil {
			fmt.Fprintf(tw, "%d\t%s\t(error: %v)\t\t\t\n", d.Broker, d.Dir, d.Err)
			continue
		}
		space := ""
		if d.TotalBytes >= 0 {
			space = fmt.Sprintf(" (%s free of %s)", formatBytes(d.UsableBytes), formatBytes(d.TotalBytes))
		}
		parts := d.Topics.Sorted()
		if len(parts) == 0 {
			fmt.Fprintf(tw, "%d\t%s%s\t-\t-\t-\t-\n", d.Broker, d.Dir, space)
		}
		for i, p := range parts {
			dir := d.Dir + space
			if i > 0 {
				dir = `"`
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\n", d.Broker, dir, p.Topic, p.Partition, formatBytes(p.Size), p.OffsetLag)
		}
	}
	return tw.Flush()
}

// formatBytes renders a byte count for people (1536 -> 1.5 KiB).
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Describe and change topic, broker and cluster-default configs",
		Long: `Read and change configs of a topic (--topic), one broker (--broker ID) or
the cluster-wide broker default (--cluster-default), as kafka-configs.sh
does. Changes go through the controller and apply without a restart; a
broker config Kafka does not allow to change dynamically is refused.

Examples:
  arus config describe --topic orders
  arus config set --topic orders retention.ms=86400000 cleanup.policy=delete
  arus config set --broker 1 log.retention.ms=3600000
  arus config set --cluster-default log.cleaner.threads=2
  arus config set --topic orders --delete retention.ms`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(newConfigDescribeCommand(), newConfigSetCommand())
	return cmd
}

// configTarget is the resource a config command names.
type configTarget struct {
	topic          string
	broker         int32
	clusterDefault bool
}

func addConfigTargetFlags(cmd *cobra.Command, t *configTarget) {
	cmd.Flags().StringVar(&t.topic, "topic", "", "a topic's configs")
	cmd.Flags().Int32Var(&t.broker, "broker", -1, "one broker's configs")
	cmd.Flags().BoolVar(&t.clusterDefault, "cluster-default", false, "the cluster-wide broker default")
}

func (t configTarget) check() error {
	n := 0
	if t.topic != "" {
		n++
	}
	if t.broker >= 0 {
		n++
	}
	if t.clusterDefault {
		n++
	}
	if n != 1 {
		return errors.New("name exactly one of --topic NAME, --broker ID or --cluster-default")
	}
	return nil
}

func (t configTarget) String() string {
	switch {
	case t.topic != "":
		return fmt.Sprintf("topic %q", t.topic)
	case t.broker >= 0:
		return fmt.Sprintf("broker %d", t.broker)
	}
	return "the cluster default"
}

func newConfigDescribeCommand() *cobra.Command {
	var (
		target configTarget
		all    bool
	)
	cmd := &cobra.Command{
		Use:   "describe (--topic T | --broker ID | --cluster-default)",
		Short: "Show configs with their values and where each comes from",
		Long: `Show the configs of a topic, a broker or the cluster-wide broker default
with DescribeConfigs: each config's value and its source (DYNAMIC_TOPIC_CONFIG,
DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG,
DEFAULT_CONFIG). Without --all, only values set somewhere other than the
built-in default are shown.

Examples:
  arus config describe --topic orders --all
  arus config describe --broker 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := target.check(); err != nil {
				return err
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := commandContext(cmd)
			adm := kadm.NewClient(cl)
			var rcs kadm.ResourceConfigs
			switch {
			case target.topic != "":
				rcs, err = adm.DescribeTopicConfigs(ctx, target.topic)
			case target.broker >= 0:
				rcs, err = adm.DescribeBrokerConfigs(ctx, target.broker)
			default:
				rcs, err = adm.DescribeBrokerConfigs(ctx)
			}
			if err != nil {
				return fmt.Errorf("describe configs of %s: %w", target, err)
			}
			if len(rcs) != 1 {
				return fmt.Errorf("describe configs of %s: %d answers", target, len(rcs))
			}
			rc := rcs[0]
			if errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
				return topicNotFound(target.topic)
			}
			if rc.Err != nil {
				return fmt.Errorf("describe configs of %s: %w", target, kafkaError(rc.Err, rc.ErrMessage))
			}
			return writeConfigs(cmd.OutOrStdout(), rc.Configs, all || target.clusterDefault)
		},
	}
	addConfigTargetFlags(cmd, &target)
	cmd.Flags().BoolVar(&all, "all", false, "show every config, defaults included")
	return cmd
}

func writeConfigs(w io.Writer, configs []kadm.Config, all bool) error {
	sort.Slice(configs, func(i, j int) bool { return configs[i].Key < configs[j].Key })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVALUE\tSOURCE")
	shown := 0
	for _, c := range configs {
		if !all && c.Source == kmsg.ConfigSourceDefaultConfig {
			continue
		}
		value := c.MaybeValue()
		switch {
		case c.Sensitive:
			value = "(sensitive)"
		case c.Value == nil:
			value = "(null)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Key, value, c.Source)
		shown++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if shown == 0 {
		fmt.Fprintln(w, "(no configs set; --all shows the defaults)")
	}
	return nil
}

func newConfigSetCommand() *cobra.Command {
	var (
		target   configTarget
		deletes  []string
		validate bool
	)
	cmd := &cobra.Command{
		Use:   "set (--topic T | --broker ID | --cluster-default) [key=value...] [--delete key...]",
		Short: "Set configs, or return them to their defaults",
		Long: `Change configs with IncrementalAlterConfigs: each key=value argument sets a
config, each --delete returns one to its default. All changes of the
command apply together or not at all. --validate-only checks them without
applying.

Examples:
  arus config set --topic orders retention.ms=86400000
  arus config set --broker 1 log.retention.ms=3600000
  arus config set --cluster-default --delete log.retention.ms`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := target.check(); err != nil {
				return err
			}
			var changes []kadm.AlterConfig
			for _, a := range args {
				k, v, err := parseKeyValue("config", a)
				if err != nil {
					return fmt.Errorf("invalid argument %q: want key=value", a)
				}
				changes = append(changes, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
			}
			for _, k := range deletes {
				changes = append(changes, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			if len(changes) == 0 {
				return errors.New("nothing to change: give key=value arguments or --delete key")
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := commandContext(cmd)
			adm := kadm.NewClient(cl)
			var resps kadm.AlterConfigsResponses
			switch {
			case target.topic != "" && validate:
				resps, err = adm.ValidateAlterTopicConfigs(ctx, changes, target.topic)
			case target.topic != "":
				resps, err = adm.AlterTopicConfigs(ctx, changes, target.topic)
			case target.broker >= 0 && validate:
				resps, err = adm.ValidateAlterBrokerConfigs(ctx, changes, target.broker)
			case target.broker >= 0:
				resps, err = adm.AlterBrokerConfigs(ctx, changes, target.broker)
			case validate:
				resps, err = adm.ValidateAlterBrokerConfigs(ctx, changes)
			default:
				resps, err = adm.AlterBrokerConfigs(ctx, changes)
			}
			if err != nil {
				return fmt.Errorf("alter configs of %s: %w", target, err)
			}
			for _, r := range resps {
				if errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
					return topicNotFound(target.topic)
				}
				if r.Err != nil {
					return fmt.Errorf("alter configs of %s: %w", target, kafkaError(r.Err, r.ErrMessage))
				}
			}
			verb := "updated"
			if validate {
				verb = "validated (not applied)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d config change(s) of %s %s\n", len(changes), target, verb)
			return nil
		},
	}
	addConfigTargetFlags(cmd, &target)
	cmd.Flags().StringArrayVar(&deletes, "delete", nil, "return this config to its default (repeatable)")
	cmd.Flags().BoolVar(&validate, "validate-only", false, "check the changes without applying them")
	return cmd
}

func newGroupLagCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lag GROUP",
		Short: "Show a group's lag per partition, largest first, with totals",
		Long: `Show how far a consumer group is behind: for every partition it has
committed offsets on, the committed offset, the log end offset and the lag
between them, largest lag first, then the lag per topic and in total.
Partitions without a commit show "-" and count the whole partition.

Examples:
  arus group lag billing`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := groupLag(cmd, args[0], "lag of group")
			if err != nil {
				return err
			}
			return writeGroupLag(cmd.OutOrStdout(), l.Lag)
		},
	}
	return cmd
}

func writeGroupLag(w io.Writer, lag kadm.GroupLag) error {
	rows := lag.Sorted()
	if len(rows) == 0 {
		fmt.Fprintln(w, "No committed offsets.")
		return nil
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Lag != rows[j].Lag {
			return rows[i].Lag > rows[j].Lag
		}
		if rows[i].Topic != rows[j].Topic {
			return rows[i].Topic < rows[j].Topic
		}
		return rows[i].Partition < rows[j].Partition
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tLOG-END\tLAG")
	perTopic := map[string]int64{}
	var total int64
	for _, r := range rows {
		committed, end, lagS := "-", "-", "-"
		if r.Commit.At >= 0 {
			committed = strconv.FormatInt(r.Commit.At, 10)
		}
		if r.End.Err == nil {
			end = strconv.FormatInt(r.End.Offset, 10)
		}
		if r.Lag >= 0 {
			lagS = strconv.FormatInt(r.Lag, 10)
			perTopic[r.Topic] += r.Lag
			total += r.Lag
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.Topic, r.Partition, committed, end, lagS)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	topics := make([]string, 0, len(perTopic))
	for topic := range perTopic {
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tLAG")
	for _, topic := range topics {
		fmt.Fprintf(tw, "%s\t%d\n", topic, perTopic[topic])
	}
	fmt.Fprintf(tw, "TOTAL\t%d\n", total)
	return tw.Flush()
}
