package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newClusterCommand returns `arus cluster` and its subcommands.
func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show cluster health and spread partitions over brokers",
		Long: `Inspect and balance a running arus (or any Kafka) cluster over the Kafka
protocol: DescribeCluster, Metadata, AlterPartitionReassignments,
ListPartitionReassignments and ElectLeaders.

Examples:
  arus cluster status
  arus cluster rebalance --dry-run
  arus cluster rebalance -b broker1:9092`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(newClusterStatusCommand(), newClusterRebalanceCommand())
	return cmd
}

func newClusterStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show brokers, the controller and partitions that are not fully replicated",
		Long: `Show the cluster id, every broker (with its rack and whether it is fenced,
that is, considered down by the controller), the active controller, and the
partitions whose in-sync replicas are fewer than their replicas
(under-replicated) or that have no leader (offline), and ongoing partition
reassignments.

Examples:
  arus cluster status
  arus cluster status -b broker2:9092`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			st, err := loadClusterStatus(commandContext(cmd), cl)
			if err != nil {
				return err
			}
			return st.write(cmd.OutOrStdout())
		},
	}
}

// clusterStatus is what `cluster status` prints.
type clusterStatus struct {
	ClusterID    string
	ControllerID int32
	Brokers      []kmsg.DescribeClusterResponseBroker
	// FencedKnown is false when the cluster does not report fencing
	// (DescribeCluster before v2).
	FencedKnown  bool
	Topics       kadm.TopicDetails
	Reassignment kadm.ListPartitionReassignmentsResponses
	ReassignErr  error
	// Voters are the metadata quorum's members (DescribeQuorum); nil when
	// the cluster does not answer it.
	Voters []int32
}

func loadClusterStatus(ctx context.Context, cl *kgo.Client) (clusterStatus, error) {
	var st clusterStatus
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return st, fmt.Errorf("describe cluster: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return st, fmt.Errorf("describe cluster: %w", kafkaError(err, ptrString(resp.ErrorMessage)))
	}
	st.ClusterID, st.ControllerID, st.Brokers = resp.ClusterID, resp.ControllerID, resp.Brokers
	st.FencedKnown = resp.Version >= 2
	sort.Slice(st.Brokers, func(i, j int) bool { return st.Brokers[i].NodeID < st.Brokers[j].NodeID })
	adm := kadm.NewClient(cl)
	if st.Topics, err = adm.ListTopicsWithInternal(ctx); err != nil {
		return st, fmt.Errorf("list topics: %w", err)
	}
	st.Reassignment, st.ReassignErr = listAllReassignments(ctx, cl)
	st.Voters = describeVoters(ctx, cl)
	return st, nil
}

// describeVoters asks for the metadata quorum's voters; nil if unknown.
func describeVoters(ctx context.Context, cl *kgo.Client) []int32 {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil
	}
	var out []int32
	for _, v := range resp.Topics[0].Partitions[0].CurrentVoters {
		out = append(out, v.ReplicaID)
	}
	return out
}

// listAllReassignments lists every ongoing reassignment (kadm's helper
// needs the partitions up front; a null topic list asks for all).
func listAllReassignments(ctx context.Context, cl *kgo.Client) (kadm.ListPartitionReassignmentsResponses, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.Topics = nil
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, kafkaError(err, ptrString(resp.ErrorMessage))
	}
	out := kadm.ListPartitionReassignmentsResponses{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if out[t.Topic] == nil {
				out[t.Topic] = map[int32]kadm.ListPartitionReassignmentsResponse{}
			}
			out[t.Topic][p.Partition] = kadm.ListPartitionReassignmentsResponse{
				Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas,
				AddingReplicas: p.AddingReplicas, RemovingReplicas: p.RemovingReplicas,
			}
		}
	}
	return out, nil
}

func (st clusterStatus) write(w io.Writer) error {
	fmt.Fprintf(w, "Cluster: %s\tController: %d\n", st.ClusterID, st.ControllerID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tADDRESS\tRACK\tSTATUS")
	for _, b := range st.Brokers {
		rack := ptrString(b.Rack)
		if rack == "" {
			rack = "-"
		}
		status := "unfenced"
		switch {
		case !st.FencedKnown:
			status = "-"
		case b.IsFenced:
			status = "fenced"
		}
		switch {
		case b.NodeID == st.ControllerID:
			status += " (active controller)"
		case slices.Contains(st.Voters, b.NodeID):
			status += " (controller)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", b.NodeID, netAddr(b.Host, b.Port), rack, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	var under, offline []string
	for _, name := range st.Topics.Names() {
		d := st.Topics[name]
		for _, p := range d.Partitions.Sorted() {
			switch {
			case p.Leader < 0:
				offline = append(offline, fmt.Sprintf("%s-%d\treplicas %s\tisr %s", name, p.Partition, formatBrokers(p.Replicas), formatBrokers(p.ISR)))
			case len(p.ISR) < len(p.Replicas):
				under = append(under, fmt.Sprintf("%s-%d\tleader %d\treplicas %s\tisr %s", name, p.Partition, p.Leader, formatBrokers(p.Replicas), formatBrokers(p.ISR)))
			}
		}
	}
	writeList := func(title string, rows []string) error {
		if len(rows) == 0 {
			fmt.Fprintf(w, "%s: none\n", title)
			return nil
		}
		fmt.Fprintf(w, "%s: %d\n", title, len(rows))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range rows {
			fmt.Fprintf(tw, "  %s\n", r)
		}
		return tw.Flush()
	}
	if err := writeList("Offline partitions", offline); err != nil {
		return err
	}
	if err := writeList("Under-replicated partitions", under); err != nil {
		return err
	}
	if st.ReassignErr != nil {
		fmt.Fprintf(w, "Reassignments: unavailable: %v\n", st.ReassignErr)
		return nil
	}
	var moving []string
	for _, r := range st.Reassignment.Sorted() {
		moving = append(moving, fmt.Sprintf("%s-%d\treplicas %s\tadding %s\tremoving %s", r.Topic, r.Partition,
			formatBrokers(r.Replicas), formatBrokers(r.AddingReplicas), formatBrokers(r.RemovingReplicas)))
	}
	return writeList("Reassignments in progress", moving)
}

func netAddr(host string, port int32) string {
	return host + ":" + strconv.Itoa(int(port))
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func newClusterRebalanceCommand() *cobra.Command {
	var (
		topics  []string
		dryRun  bool
		noWait  bool
		noElect bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rebalance",
		Short: "Spread partition replicas and leaders evenly over all brokers",
		Long: `Compute an assignment that spreads the replicas (and preferred leaders) of
every topic's partitions evenly over the unfenced brokers, moving as few
replicas as possible and keeping each partition's replication factor, then
start the moves with AlterPartitionReassignments and wait, with a progress
display, until every reassignment has finished. New replicas copy the data
from the current leader while producers and consumers keep running.
Finally a preferred leader election moves leadership to the new first
replicas.

Use it after adding a broker. Internal topics are included; --topic limits
the rebalance to the named topics.

Examples:
  arus cluster rebalance --dry-run
  arus cluster rebalance
  arus cluster rebalance --topic orders --topic payments --timeout 30m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := commandContext(cmd)
			adm := kadm.NewClient(cl)
			st, err := loadClusterStatus(ctx, cl)
			if err != nil {
				return err
			}
			var brokers []int32
			for _, b := range st.Brokers {
				if !b.IsFenced {
					brokers = append(brokers, b.NodeID)
				}
			}
			current := map[string][][]int32{}
			for _, name := range st.Topics.Names() {
				d := st.Topics[name]
				if len(topics) > 0 && !slices.Contains(topics, name) {
					continue
				}
				if d.Err != nil {
					return fmt.Errorf("metadata for topic %q: %w", name, d.Err)
				}
				parts := make([][]int32, len(d.Partitions))
				for _, p := range d.Partitions {
					if int(p.Partition) < len(parts) {
						parts[p.Partition] = p.Replicas
					}
				}
				current[name] = parts
			}
			for _, name := range topics {
				if _, ok := current[name]; !ok {
					return topicNotFound(name)
				}
			}
			if len(st.Reassignment) > 0 {
				return fmt.Errorf("%d partitions are being reassigned already; wait for them (arus cluster status) before rebalancing", countReassignments(st.Reassignment))
			}
			plan, err := planRebalance(brokers, current)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(plan) == 0 {
				fmt.Fprintf(out, "already balanced over brokers %s: nothing to move\n", formatBrokers(brokers))
				return nil
			}
			writePlan(out, current, plan)
			if dryRun {
				return nil
			}
			return runReassignment(ctx, cmd, cl, adm, plan, !noWait, !noElect, timeout)
		},
	}
	cmd.Flags().StringArrayVar(&topics, "topic", nil, "rebalance only this topic (repeatable)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the moves without making them")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "start the moves and return without waiting for them")
	cmd.Flags().BoolVar(&noElect, "no-elect", false, "do not move leadership to the new preferred leaders afterwards")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "how long to wait for the moves to finish")
	return cmd
}

func countReassignments(rs kadm.ListPartitionReassignmentsResponses) int {
	n := 0
	for _, ps := range rs {
		n += len(ps)
	}
	return n
}

// reassignPlan is the new replica list of each partition to move.
type reassignPlan map[string]map[int32][]int32

// planRebalance spreads the replicas of the partitions in current (replica
// lists indexed by partition) evenly over brokers, so each holds ⌊R/n⌋ or
// ⌈R/n⌉ of the R replicas, moving as few replicas as it can: replicas on
// brokers not in the list move first, then one replica at a time from the
// fullest broker to the emptiest until they differ by at most one. Then
// preferred leaders (first replicas) are evened out by reordering. It
// returns only the partitions whose replica list changes.
func planRebalance(brokers []int32, current map[string][][]int32) (reassignPlan, error) {
	if len(brokers) == 0 {
		return nil, errors.New("no unfenced brokers to spread partitions over")
	}
	brokers = slices.Sorted(slices.Values(brokers))
	type slot struct {
		topic     string
		partition int
	}
	var slots []slot
	assign := map[slot][]int32{}
	for _, name := range sortedKeys(current) {
		for p, replicas := range current[name] {
			if len(replicas) > len(brokers) {
				return nil, fmt.Errorf("%s-%d has %d replicas but only %d brokers are up", name, p, len(replicas), len(brokers))
			}
			s := slot{name, p}
			slots = append(slots, s)
			assign[s] = slices.Clone(replicas)
		}
	}
	load := map[int32]int{}
	for _, s := range slots {
		for _, r := range assign[s] {
			load[r]++
		}
	}
	// leastLoaded returns the live broker with the fewest replicas that is
	// not in exclude; -1 if every one is.
	leastLoaded := func(exclude []int32) int32 {
		best := int32(-1)
		for _, b := range brokers {
			if !slices.Contains(exclude, b) && (best < 0 || load[b] < load[best]) {
				best = b
			}
		}
		return best
	}
	for _, s := range slots {
		rs := assign[s]
		for i, r := range rs {
			if !slices.Contains(brokers, r) {
				to := leastLoaded(rs)
				load[r]--
				load[to]++
				rs[i] = to
			}
		}
	}
	leaders := map[int32]int{}
	for _, s := range slots {
		leaders[assign[s][0]]++
	}
	// Move single replicas from the fullest broker to the emptiest one
	// that a partition of the fullest can take, preferring a partition the
	// fullest leads when it leads more than the emptiest (leaders spread as
	// well). Each move lowers the spread, so this ends.
	for {
		byLoad := slices.Clone(brokers)
		sort.SliceStable(byLoad, func(i, j int) bool { return load[byLoad[i]] > load[byLoad[j]] })
		moved := false
		for _, hi := range byLoad {
			for k := len(byLoad) - 1; k >= 0 && !moved; k-- {
				lo := byLoad[k]
				if load[hi]-load[lo] <= 1 {
					break
				}
				pick, pickAt := slot{}, -1
				for _, s := range slots {
					rs := assign[s]
					i := slices.Index(rs, hi)
					if i < 0 || slices.Contains(rs, lo) {
						continue
					}
					if pickAt < 0 || i == 0 && pickAt != 0 && leaders[hi] > leaders[lo] {
						pick, pickAt = s, i
					}
				}
				if pickAt >= 0 {
					assign[pick][pickAt] = lo
					load[hi]--
					load[lo]++
					if pickAt == 0 {
						leaders[hi]--
						leaders[lo]++
					}
					moved = true
				}
			}
			if moved {
				break
			}
		}
		if !moved {
			break
		}
	}
	// Preferred leaders: move a partition's leadership to one of its
	// replicas that leads at least two fewer partitions, until none can.
	for changed := true; changed; {
		changed = false
		for _, s := range slots {
			rs := assign[s]
			best := 0
			for i, r := range rs {
				if leaders[r] < leaders[rs[best]] {
					best = i
				}
			}
			if leaders[rs[0]]-leaders[rs[best]] >= 2 {
				leaders[rs[0]]--
				leaders[rs[best]]++
				rs[0], rs[best] = rs[best], rs[0]
				changed = true
			}
		}
	}
	plan := reassignPlan{}
	for _, s := range slots {
		if !slices.Equal(assign[s], current[s.topic][s.partition]) {
			if plan[s.topic] == nil {
				plan[s.topic] = map[int32][]int32{}
			}
			plan[s.topic][int32(s.partition)] = assign[s]
		}
	}
	return plan, nil
}

// writePlan prints the moves of a plan.
func writePlan(w io.Writer, current map[string][][]int32, plan reassignPlan) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tFROM\tTO")
	n := 0
	for _, name := range sortedKeys(plan) {
		ps := plan[name]
		idx := make([]int32, 0, len(ps))
		for p := range ps {
			idx = append(idx, p)
		}
		slices.Sort(idx)
		for _, p := range idx {
			fmt.Fprintf(tw, "%s-%d\t%s\t%s\n", name, p, formatBrokers(current[name][p]), formatBrokers(ps[p]))
			n++
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d partitions to reassign\n", n)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// runReassignment submits plan, then (wait) follows it until no partition
// of it is being reassigned, drawing progress on stderr, and (elect) moves
// leadership to the new preferred leaders.
func runReassignment(ctx context.Context, cmd *cobra.Command, cl *kgo.Client, adm *kadm.Client, plan reassignPlan, wait, elect bool, timeout time.Duration) error {
	req := kadm.AlterPartitionAssignmentsReq{}
	set := kadm.TopicsSet{}
	total := 0
	for name, ps := range plan {
		for p, replicas := range ps {
			req.Assign(name, p, replicas)
			set.Add(name, p)
			total++
		}
	}
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("alter partition assignments: %w", err)
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("reassign %s-%d: %w", r.Topic, r.Partition, kafkaError(r.Err, r.ErrMessage)))
			set.Delete(r.Topic, r.Partition)
			total--
		}
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "started %d reassignments\n", total)
	if !wait || total == 0 {
		return errors.Join(errs...)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := waitReassignments(wctx, adm, set, total, errWriter(cmd)); err != nil {
		return errors.Join(append(errs, err)...)
	}
	fmt.Fprintf(out, "all %d reassignments finished\n", total)
	if elect {
		res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
		if err != nil {
			errs = append(errs, fmt.Errorf("preferred leader election: %w", err))
		}
		moved := 0
		for _, ps := range res {
			for _, r := range ps {
				switch {
				case r.Err == nil:
					moved++
				case errors.Is(r.Err, kerr.ElectionNotNeeded):
				default:
					fmt.Fprintf(errWriter(cmd), "leader of %s-%d not moved: %v\n", r.Topic, r.Partition, kafkaError(r.Err, r.ErrMessage))
				}
			}
		}
		fmt.Fprintf(out, "moved leadership of %d partitions to their preferred leader\n", moved)
	}
	return errors.Join(errs...)
}

// waitReassignments polls ListPartitionReassignments until none of set is
// being reassigned, redrawing a progress line on w.
func waitReassignments(ctx context.Context, adm *kadm.Client, set kadm.TopicsSet, total int, w io.Writer) error {
	interactive := isTerminal(w)
	start := time.Now()
	draw := func(done int, final bool) {
		line := renderReassignProgress(done, total, time.Since(start))
		if !interactive {
			fmt.Fprintln(w, line)
			return
		}
		fmt.Fprintf(w, "\r%s", line)
		if final {
			fmt.Fprintln(w)
		}
	}
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	lastDone := -1
	for {
		ls, err := adm.ListPartitionReassignments(ctx, set)
		if err == nil {
			done := total - countReassignments(ls)
			if done >= total {
				draw(total, true)
				return nil
			}
			if interactive || done != lastDone {
				draw(done, false)
			}
			lastDone = done
		}
		select {
		case <-ctx.Done():
			if interactive {
				fmt.Fprintln(w)
			}
			return fmt.Errorf("reassignments did not finish in time (%d of %d done): %w", max(lastDone, 0), total, ctx.Err())
		case <-ticker.C:
		}
	}
}

// renderReassignProgress returns one progress line, for example
//
//	reassign [###############---------------]  50.0%  3/6 partitions  12s
func renderReassignProgress(done, total int, elapsed time.Duration) string {
	fraction := 1.0
	if total > 0 {
		fraction = min(max(float64(done)/float64(total), 0), 1)
	}
	filled := int(fraction * progressBarWidth)
	bar := strings.Repeat("#", filled) + strings.Repeat("-", progressBarWidth-filled)
	return fmt.Sprintf("reassign [%s] %5.1f%%  %d/%d partitions  %s", bar, fraction*100, done, total, elapsed.Truncate(time.Second))
}
