package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// newGroupCommand returns `arus group` and its subcommands.
func newGroupCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe and delete consumer groups; reset their offsets",
		Long: `Manage consumer groups on a running arus (or any Kafka) cluster.

A consumer group shares the partitions of its topics among its members, so
one group is a queue; every group gets every record, so many groups are a
broadcast. The cluster keeps each group's committed offsets: where it
resumes after a restart.

Examples:
  arus group list
  arus group describe billing
  arus group reset-offsets --group billing --topic orders --to-datetime 2026-11-21T10:00:00Z --dry-run
  arus group delete billing`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(
		newGroupListCommand(),
		newGroupDescribeCommand(),
		newGroupDeleteCommand(),
		newGroupResetOffsetsCommand(),
		newGroupLagCommand(),
	)
	return cmd
}

func newGroupListCommand() *cobra.Command {
	var states []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups with their state",
		Long: `List every consumer group the cluster knows, with its state (Empty,
PreparingRebalance, CompletingRebalance, Stable) and protocol type.

Examples:
  arus group list
  arus group list --state Stable`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			groups, err := kadm.NewClient(cl).ListGroups(commandContext(cmd), states...)
			if err != nil {
				return fmt.Errorf("list groups: %w", err)
			}
			return writeGroupList(cmd.OutOrStdout(), groups)
		},
	}
	cmd.Flags().StringArrayVar(&states, "state", nil, "only groups in this state (repeatable)")
	return cmd
}

func writeGroupList(w io.Writer, groups kadm.ListedGroups) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE")
	for _, g := range groups.Sorted() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Group, g.State, orDash(g.ProtocolType))
	}
	return tw.Flush()
}

func newGroupDescribeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's members, assignments, committed offsets and lag",
		Long: `Describe a consumer group: its state and assignment protocol, each member
with the partitions assigned to it, and for every partition the group
consumes or has committed: the committed offset, the log end offset and the
lag between them.

Examples:
  arus group describe billing`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := groupLag(cmd, args[0], "describe group")
			if err != nil {
				return err
			}
			return writeGroupDescription(cmd.OutOrStdout(), l)
		},
	}
	return cmd
}

func writeGroupDescription(w io.Writer, l kadm.DescribedGroupLag) error {
	protocol := orDash(l.Protocol)
	if l.ProtocolType != "" {
		protocol += " (" + l.ProtocolType + ")"
	}
	fmt.Fprintf(w, "Group:        %s\nState:        %s\nProtocol:     %s\nCoordinator:  %d\nMembers:      %d\n",
		l.Group, l.State, protocol, l.Coordinator.NodeID, len(l.Members))
	if len(l.Members) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tINSTANCE\tCLIENT\tHOST\tASSIGNED")
		for _, m := range l.Members {
			instance := "-"
			if m.InstanceID != nil {
				instance = *m.InstanceID
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, instance, orDash(m.ClientID), orDash(m.ClientHost), formatAssigned(m))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	rows := l.Lag.Sorted()
	fmt.Fprintln(w)
	if len(rows) == 0 {
		fmt.Fprintln(w, "No committed offsets.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tLOG-END\tLAG\tMEMBER")
	var total int64
	for _, r := range rows {
		committed, lag := "-", "-"
		if r.Commit.At >= 0 {
			committed = strconv.FormatInt(r.Commit.At, 10)
		}
		if r.Lag >= 0 {
			lag = strconv.FormatInt(r.Lag, 10)
			total += r.Lag
		}
		end := "-"
		if r.End.Err == nil {
			end = strconv.FormatInt(r.End.Offset, 10)
		}
		member := "-"
		if r.Member != nil {
			member = r.Member.MemberID
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Topic, r.Partition, committed, end, lag, member)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTotal lag: %d\n", total)
	return nil
}

// formatAssigned renders a member's consumer assignment as topic:p,p.
func formatAssigned(m kadm.DescribedGroupMember) string {
	c, ok := m.Assigned.AsConsumer()
	if !ok || len(c.Topics) == 0 {
		return "-"
	}
	var parts []string
	for _, t := range c.Topics {
		ps := append([]int32(nil), t.Partitions...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		nums := make([]string, len(ps))
		for i, p := range ps {
			nums[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, t.Topic+":"+strings.Join(nums, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGroupDeleteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete consumer groups and their committed offsets",
		Long: `Delete consumer groups with their committed offsets. Only groups without
active members can be deleted; stop their consumers first.

Examples:
  arus group delete billing
  arus group delete old-a old-b`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			resps, err := kadm.NewClient(cl).DeleteGroups(commandContext(cmd), args...)
			if err != nil {
				return fmt.Errorf("delete groups: %w", err)
			}
			failed := false
			for _, g := range args {
				r, ok := resps[g]
				switch {
				case !ok:
					failed = true
					fmt.Fprintf(errWriter(cmd), "group %q: no answer\n", g)
				case errors.Is(r.Err, kerr.GroupIDNotFound):
					failed = true
					fmt.Fprintf(errWriter(cmd), "group %q does not exist\n", g)
				case errors.Is(r.Err, kerr.NonEmptyGroup):
					failed = true
					fmt.Fprintf(errWriter(cmd), "group %q still has active members; stop its consumers first\n", g)
				case r.Err != nil:
					failed = true
					fmt.Fprintf(errWriter(cmd), "group %q: %v\n", g, r.Err)
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "deleted group %q\n", g)
				}
			}
			if failed {
				return errSilent
			}
			return nil
		},
	}
	return cmd
}

// resetOptions are the flags of `arus group reset-offsets`.
type resetOptions struct {
	group      string
	topic      string
	toEarliest bool
	toLatest   bool
	toOffset   int64
	toDatetime string
	shiftBy    int64
	dryRun     bool
}

func newGroupResetOffsetsCommand() *cobra.Command {
	var o resetOptions
	cmd := &cobra.Command{
		Use:   "reset-offsets --group G --topic T (--to-earliest | --to-latest | --to-offset N | --to-datetime TIME | --shift-by N)",
		Short: "Move a group's committed offsets to replay (or skip) records",
		Long: `Change where consumer group G resumes in topic T: the next time its consumers
start, they read from the new offsets.

Exactly one target:
  --to-earliest        the first offset still in each partition
  --to-latest          the end of each partition (skip everything so far)
  --to-offset N        offset N in each partition (clamped to what exists)
  --to-datetime TIME   the first record at or after TIME (RFC3339)
  --shift-by N         the committed offset plus N (negative N replays)

--topic T resets every partition of T; T:0,2 only partitions 0 and 2.
--dry-run prints the plan without changing anything.

The group must have no active members: a running consumer would overwrite
the new offsets with its own commits. Stop its consumers first.

Examples:
  arus group reset-offsets --group billing --topic orders --to-earliest --dry-run
  arus group reset-offsets --group billing --topic orders --to-datetime 2026-11-21T10:00:00Z
  arus group reset-offsets --group billing --topic orders:3 --shift-by -100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			return runResetOffsets(cmd, o, flags.Changed("to-offset"), flags.Changed("shift-by"))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.group, "group", "g", "", "consumer group (required)")
	f.StringVarP(&o.topic, "topic", "t", "", "topic, or topic:partition,partition (required)")
	f.BoolVar(&o.toEarliest, "to-earliest", false, "reset to the earliest offset")
	f.BoolVar(&o.toLatest, "to-latest", false, "reset to the end offset")
	f.Int64Var(&o.toOffset, "to-offset", 0, "reset to this offset")
	f.StringVar(&o.toDatetime, "to-datetime", "", "reset to the first record at or after this RFC3339 time")
	f.Int64Var(&o.shiftBy, "shift-by", 0, "move the committed offsets by N")
	f.BoolVar(&o.dryRun, "dry-run", false, "show the plan, change nothing")
	return cmd
}

// resetPlanRow is one partition of a reset plan.
type resetPlanRow struct {
	partition int32
	current   int64 // -1: nothing committed
	target    int64
	note      string
}

func runResetOffsets(cmd *cobra.Command, o resetOptions, toOffsetSet, shiftSet bool) error {
	if o.group == "" || o.topic == "" {
		return errors.New("--group and --topic are required")
	}
	targets := 0
	for _, set := range []bool{o.toEarliest, o.toLatest, toOffsetSet, o.toDatetime != "", shiftSet} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		return errors.New("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by")
	}
	var at time.Time
	if o.toDatetime != "" {
		var err error
		if at, err = time.Parse(time.RFC3339Nano, o.toDatetime); err != nil {
			return fmt.Errorf("invalid --to-datetime %q: want an RFC3339 time such as 2026-11-21T10:00:00Z", o.toDatetime)
		}
	}
	topic, only, err := parseTopicPartitions(o.topic)
	if err != nil {
		return err
	}
	cl, err := newClient(cmd)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx := commandContext(cmd)
	adm := kadm.NewClient(cl)

	if err := refuseActiveGroup(ctx, adm, o.group); err != nil {
		return err
	}
	detail, err := lookupTopic(ctx, adm, topic)
	if err != nil {
		return err
	}
	partitions := detail.Partitions.Numbers()
	sort.Slice(partitions, func(i, j int) bool { return partitions[i] < partitions[j] })
	if only != nil {
		for _, p := range only {
			if _, ok := detail.Partitions[p]; !ok {
				return fmt.Errorf("topic %q has no partition %d", topic, p)
			}
		}
		partitions = only
	}

	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("list start offsets of %q: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("list end offsets of %q: %w", topic, err)
	}
	var afterTime kadm.ListedOffsets
	if !at.IsZero() {
		if afterTime, err = adm.ListOffsetsAfterMilli(ctx, at.UnixMilli(), topic); err != nil {
			return fmt.Errorf("look up offsets at %s: %w", o.toDatetime, err)
		}
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, o.group, topic)
	if err != nil {
		return fmt.Errorf("fetch committed offsets of group %q: %w", o.group, err)
	}

	var plan []resetPlanRow
	newOffsets := kadm.Offsets{}
	for _, p := range partitions {
		start, ok1 := starts.Lookup(topic, p)
		end, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 || start.Err != nil || end.Err != nil {
			return fmt.Errorf("offsets of %s-%d are unavailable: %v %v", topic, p, start.Err, end.Err)
		}
		row := resetPlanRow{partition: p, current: -1}
		if c, ok := committed.Lookup(topic, p); ok && c.Err == nil && c.At >= 0 {
			row.current = c.At
		}
		switch {
		case o.toEarliest:
			row.target = start.Offset
		case o.toLatest:
			row.target = end.Offset
		case toOffsetSet:
			row.target = o.toOffset
		case !at.IsZero():
			row.target = end.Offset
			if a, ok := afterTime.Lookup(topic, p); ok && a.Err == nil && a.Offset >= 0 {
				row.target = a.Offset
			}
		case shiftSet:
			from := row.current
			if from < 0 {
				from = start.Offset
				row.note = "nothing committed: shifted from the earliest offset"
			}
			row.target = from + o.shiftBy
		}
		if row.target < start.Offset {
			row.target, row.note = start.Offset, "clamped to the earliest offset"
		} else if row.target > end.Offset {
			row.target, row.note = end.Offset, "clamped to the end offset"
		}
		plan = append(plan, row)
		newOffsets.Add(kadm.Offset{Topic: topic, Partition: p, At: row.target, LeaderEpoch: -1})
	}

	w := cmd.OutOrStdout()
	if err := writeResetPlan(w, o.group, topic, plan); err != nil {
		return err
	}
	if o.dryRun {
		fmt.Fprintln(w, "\nDry run: no offsets were changed.")
		return nil
	}
	resps, err := adm.CommitOffsets(ctx, o.group, newOffsets)
	if err == nil {
		err = resps.Error()
	}
	if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) {
		return fmt.Errorf("group %q became active while resetting; stop its consumers and try again", o.group)
	}
	if err != nil {
		return fmt.Errorf("commit the new offsets of group %q: %w", o.group, err)
	}
	fmt.Fprintf(w, "\nReset %d partition(s) of %q for group %q.\n", len(plan), topic, o.group)
	return nil
}

// refuseActiveGroup fails when the group has members: their commits would
// overwrite the reset, and Kafka refuses the same.
func refuseActiveGroup(ctx context.Context, adm *kadm.Client, group string) error {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) {
			return fmt.Errorf("describe group %q: %w", group, err)
		}
	}
	d, ok := described[group]
	if !ok || errors.Is(d.Err, kerr.GroupIDNotFound) {
		return nil // a new group: the reset creates its offsets
	}
	if d.Err != nil {
		return fmt.Errorf("describe group %q: %w", group, d.Err)
	}
	if len(d.Members) > 0 || (d.State != "Empty" && d.State != "Dead") {
		return fmt.Errorf("group %q has %d active member(s) (state %s): stop its consumers before resetting its offsets",
			group, len(d.Members), d.State)
	}
	return nil
}

func writeResetPlan(w io.Writer, group, topic string, plan []resetPlanRow) error {
	fmt.Fprintf(w, "Group %q, topic %q:\n\n", group, topic)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tCURRENT\tNEW\tNOTE")
	for _, r := range plan {
		current := "-"
		if r.current >= 0 {
			current = strconv.FormatInt(r.current, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\n", r.partition, current, r.target, r.note)
	}
	return tw.Flush()
}

// parseTopicPartitions parses "topic" or "topic:0,2".
func parseTopicPartitions(s string) (string, []int32, error) {
	topic, list, hasList := strings.Cut(s, ":")
	if topic == "" {
		return "", nil, fmt.Errorf("invalid --topic %q", s)
	}
	if !hasList {
		return topic, nil, nil
	}
	var out []int32
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || n < 0 {
			return "", nil, fmt.Errorf("invalid --topic %q: want topic or topic:0,1,2", s)
		}
		out = append(out, int32(n))
	}
	return topic, out, nil
}

// groupLag describes group with its committed offsets and lag (kadm's
// Lag), turning a missing or dead group into "does not exist"; what names
// the command in other errors.
func groupLag(cmd *cobra.Command, group, what string) (kadm.DescribedGroupLag, error) {
	cl, err := newClient(cmd)
	if err != nil {
		return kadm.DescribedGroupLag{}, err
	}
	defer cl.Close()
	lags, err := kadm.NewClient(cl).Lag(commandContext(cmd), group)
	if err != nil {
		return kadm.DescribedGroupLag{}, fmt.Errorf("%s %q: %w", what, group, err)
	}
	l, ok := lags[group]
	if !ok || errors.Is(l.DescribeErr, kerr.GroupIDNotFound) || (l.DescribeErr == nil && l.State == "Dead") {
		return kadm.DescribedGroupLag{}, fmt.Errorf("group %q does not exist", group)
	}
	if err := l.Error(); err != nil {
		return kadm.DescribedGroupLag{}, fmt.Errorf("%s %q: %w", what, group, err)
	}
	return l, nil
}
