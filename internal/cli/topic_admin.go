package cli

// Topic subcommands that change a running topic: reassign (move a
// partition's replicas), alter-config and add-partitions.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func newTopicReassignCommand() *cobra.Command {
	var (
		partition int32
		replicas  string
		cancel    bool
		noWait    bool
		timeout   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "reassign TOPIC --partition P --replicas 1,2,3",
		Short: "Move a partition's replicas to other brokers",
		Long: `Move one partition to the brokers given by --replicas (the first becomes its
preferred leader) with AlterPartitionReassignments. New replicas copy the
log from the leader while clients keep producing and consuming; once they
are in sync the old replicas are dropped and their data deleted. The
command waits, showing progress, until the move is done (--no-wait returns
at once). The replica count may differ from the current one to change the
replication factor.

--cancel stops an ongoing move and returns the partition to its original
replicas.

Examples:
  arus topic reassign orders --partition 0 --replicas 2,3
  arus topic reassign orders --partition 0 --cancel`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			var target []int32
			switch {
			case cancel && replicas != "":
				return errors.New("give either --replicas or --cancel, not both")
			case !cancel:
				var err error
				if target, err = parseBrokerList(replicas); err != nil {
					return err
				}
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := commandContext(cmd)
			adm := kadm.NewClient(cl)
			if _, err := lookupTopic(ctx, adm, topic); err != nil {
				return err
			}
			if cancel {
				var req kadm.AlterPartitionAssignmentsReq
				req.CancelAssign(topic, partition)
				resps, err := adm.AlterPartitionAssignments(ctx, req)
				if err != nil {
					return fmt.Errorf("cancel reassignment: %w", err)
				}
				r := resps[topic][partition]
				if r.Err != nil {
					return fmt.Errorf("cancel reassignment of %s-%d: %w", topic, partition, kafkaError(r.Err, r.ErrMessage))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cancelled the reassignment of %s-%d\n", topic, partition)
				return nil
			}
			plan := reassignPlan{topic: {partition: target}}
			return runReassignment(ctx, cmd, cl, adm, plan, !noWait, false, timeout)
		},
	}
	cmd.Flags().Int32VarP(&partition, "partition", "p", 0, "partition to move")
	cmd.Flags().StringVar(&replicas, "replicas", "", "comma-separated broker ids, preferred leader first")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the partition's ongoing reassignment")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the move has started")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "how long to wait for the move to finish")
	return cmd
}

// parseBrokerList parses "1,2,3" into broker ids.
func parseBrokerList(s string) ([]int32, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("--replicas is required: comma-separated broker ids, e.g. --replicas 1,2,3")
	}
	var out []int32
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("invalid --replicas %q: %q is not a broker id", s, f)
		}
		out = append(out, int32(id))
	}
	return out, nil
}

func newTopicAlterConfigCommand() *cobra.Command {
	var set, del, appendItems, subtract []string
	var validate bool
	cmd := &cobra.Command{
		Use:   "alter-config TOPIC",
		Short: "Set or remove topic configs",
		Long: `Change a topic's configs with IncrementalAlterConfigs: --set replaces a
value, --delete returns a config to its default, --append and --subtract
add or remove items of list configs (cleanup.policy). All changes apply
together or not at all; brokers pick them up within moments.

Examples:
  arus topic alter-config orders --set retention.ms=86400000
  arus topic alter-config orders --delete retention.ms --set segment.ms=3600000
  arus topic alter-config audit --append cleanup.policy=compact`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			var changes []kadm.AlterConfig
			add := func(flag string, op kadm.IncrementalOp, pairs []string) error {
				for _, pair := range pairs {
					k, v, err := parseKeyValue(flag, pair)
					if err != nil {
						return err
					}
					changes = append(changes, kadm.AlterConfig{Op: op, Name: k, Value: &v})
				}
				return nil
			}
			if err := errors.Join(add("set", kadm.SetConfig, set), add("append", kadm.AppendConfig, appendItems),
				add("subtract", kadm.SubtractConfig, subtract)); err != nil {
				return err
			}
			for _, k := range del {
				changes = append(changes, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			if len(changes) == 0 {
				return errors.New("nothing to change: use --set, --delete, --append or --subtract")
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			alter := adm.AlterTopicConfigs
			if validate {
				alter = adm.ValidateAlterTopicConfigs
			}
			resps, err := alter(commandContext(cmd), changes, topic)
			if err != nil {
				return fmt.Errorf("alter configs of %q: %w", topic, err)
			}
			r, err := resps.On(topic, nil)
			if err == nil {
				err = r.Err
			}
			switch {
			case errors.Is(err, kerr.UnknownTopicOrPartition):
				return topicNotFound(topic)
			case err != nil:
				return fmt.Errorf("alter configs of %q: %w", topic, kafkaError(err, r.ErrMessage))
			case validate:
				fmt.Fprintf(cmd.OutOrStdout(), "configs of %q are valid (nothing changed)\n", topic)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "altered %d configs of %q\n", len(changes), topic)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&set, "set", nil, "set config key=value (repeatable)")
	cmd.Flags().StringArrayVar(&del, "delete", nil, "return config key to its default (repeatable)")
	cmd.Flags().StringArrayVar(&appendItems, "append", nil, "add items to list config key=item[,item] (repeatable)")
	cmd.Flags().StringArrayVar(&subtract, "subtract", nil, "remove items from list config key=item[,item] (repeatable)")
	cmd.Flags().BoolVar(&validate, "validate-only", false, "check the changes without applying them")
	return cmd
}

func newTopicAddPartitionsCommand() *cobra.Command {
	var partitions int
	var validate bool
	cmd := &cobra.Command{
		Use:   "add-partitions TOPIC --partitions N",
		Short: "Grow a topic to N partitions",
		Long: `Raise a topic's partition count to N (its new total, as kafka-topics
--alter --partitions takes it). The new partitions are spread over the
brokers with the topic's replication factor. Partitions can never be
removed, and keyed records may map to other partitions afterwards.

Examples:
  arus topic add-partitions orders --partitions 12`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			if partitions <= 0 {
				return errors.New("--partitions is required: the topic's new number of partitions")
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			update := adm.UpdatePartitions
			if validate {
				update = adm.ValidateUpdatePartitions
			}
			resps, err := update(commandContext(cmd), partitions, topic)
			if err != nil {
				return fmt.Errorf("add partitions to %q: %w", topic, err)
			}
			r, ok := resps[topic]
			switch {
			case !ok:
				return fmt.Errorf("add partitions to %q: no answer from broker", topic)
			case errors.Is(r.Err, kerr.UnknownTopicOrPartition):
				return topicNotFound(topic)
			case r.Err != nil:
				return fmt.Errorf("add partitions to %q: %w", topic, kafkaError(r.Err, r.ErrMessage))
			case validate:
				fmt.Fprintf(cmd.OutOrStdout(), "%q can grow to %d partitions (nothing changed)\n", topic, partitions)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "topic %q now has %d partitions\n", topic, partitions)
			}
			return nil
		},
	}
	cmd.Flags().IntVarP(&partitions, "partitions", "p", 0, "the topic's new total number of partitions")
	cmd.Flags().BoolVar(&validate, "validate-only", false, "check without adding partitions")
	return cmd
}
