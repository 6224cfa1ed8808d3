package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newTxnCommand returns `arus txn` and its subcommands.
func newTxnCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "txn",
		Short: "List, describe and abort transactions",
		Long: `Inspect the transactions of transactional producers (Kafka's
kafka-transactions.sh): which transactional ids exist, their state, how long
their current transaction has run and which partitions it wrote to.

Examples:
  arus txn list
  arus txn list --state Ongoing --min-duration 5m
  arus txn describe payments-1
  arus txn abort payments-1`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(newTxnListCommand(), newTxnDescribeCommand(), newTxnAbortCommand())
	return cmd
}

func newTxnListCommand() *cobra.Command {
	var states []string
	var minDuration time.Duration
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List transactional ids with their state",
		Long: `List every transactional id the cluster's transaction coordinators know,
with its producer id and state (Empty, Ongoing, PrepareCommit, PrepareAbort,
CompleteCommit, CompleteAbort). --min-duration keeps transactions that have
run longer than the duration: candidates for a hanging transaction.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := commandContext(cmd)
			adm := kadm.NewClient(cl)
			var listed kadm.ListedTransactions
			if minDuration > 0 {
				listed, err = listLongTransactions(ctx, cl, states, minDuration)
			} else {
				listed, err = adm.ListTransactions(ctx, nil, states)
			}
			if err != nil {
				return fmt.Errorf("list transactions: %w", err)
			}
			return writeTxnList(cmd.OutOrStdout(), listed)
		},
	}
	cmd.Flags().StringArrayVar(&states, "state", nil, "only transactions in this state (repeatable)")
	cmd.Flags().DurationVar(&minDuration, "min-duration", 0, "only transactions running longer than this")
	return cmd
}

// listLongTransactions asks every broker for its transactions running
// longer than d (ListTransactions v1's duration filter, which kadm does
// not expose).
func listLongTransactions(ctx context.Context, cl *kgo.Client, states []string, d time.Duration) (kadm.ListedTransactions, error) {
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters, req.DurationFilterMillis = states, d.Milliseconds()
	out := kadm.ListedTransactions{}
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return nil, shard.Err
		}
		resp := shard.Resp.(*kmsg.ListTransactionsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, err
		}
		for _, s := range resp.TransactionStates {
			out[s.TransactionalID] = kadm.ListedTransaction{Coordinator: shard.Meta.NodeID, TxnID: s.TransactionalID,
				ProducerID: s.ProducerID, State: s.TransactionState}
		}
	}
	return out, nil
}

func writeTxnList(w io.Writer, listed kadm.ListedTransactions) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tPRODUCER-ID\tSTATE")
	for _, t := range listed.Sorted() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.TxnID, t.Coordinator, t.ProducerID, t.State)
	}
	return tw.Flush()
}

func newTxnDescribeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "describe TRANSACTIONAL-ID...",
		Short: "Show the state of transactional ids",
		Long: `Show each transactional id's coordinator, producer id and epoch, state,
timeout, when its current transaction started and the partitions it wrote.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			described, err := kadm.NewClient(cl).DescribeTransactions(commandContext(cmd), ids...)
			if err != nil {
				return fmt.Errorf("describe transactions: %w", err)
			}
			return writeTxnDescribe(cmd.OutOrStdout(), described, time.Now())
		},
	}
}

func writeTxnDescribe(w io.Writer, described kadm.DescribedTransactions, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tPRODUCER-ID\tEPOCH\tSTATE\tTIMEOUT\tRUNNING-FOR\tPARTITIONS")
	var failed []string
	for _, d := range described.Sorted() {
		if d.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", d.TxnID, d.Err))
			continue
		}
		running := "-"
		if d.StartTimestamp >= 0 && d.State == "Ongoing" {
			running = now.Sub(time.UnixMilli(d.StartTimestamp)).Round(time.Millisecond).String()
		}
		var parts []string
		for topic, ps := range d.Topics {
			for p := range ps {
				parts = append(parts, fmt.Sprintf("%s-%d", topic, p))
			}
		}
		sort.Strings(parts)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", d.TxnID, d.Coordinator, d.ProducerID, d.ProducerEpoch, d.State,
			(time.Duration(d.TimeoutMillis) * time.Millisecond).String(), running, orDash(strings.Join(parts, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

func newTxnAbortCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "abort TRANSACTIONAL-ID",
		Short: "Abort the open transaction of a transactional id and fence its producer",
		Long: `Abort the transactional id's open transaction, as a new producer with the
same id would on start (Kafka's force-terminate): the coordinator bumps the
producer epoch, so the current producer is fenced, and writes ABORT markers
to every partition of the transaction. Its records never become visible to
read_committed consumers.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			epoch, err := forceTerminate(commandContext(cmd), cl, args[0])
			if err != nil {
				return fmt.Errorf("abort %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "aborted the open transaction of %s (if any); its producer epoch is now %d\n", args[0], epoch)
			return nil
		},
	}
}

// forceTerminate sends InitProducerId for id until the coordinator has
// aborted its open transaction (it answers CONCURRENT_TRANSACTIONS while
// the abort runs), and returns the new epoch.
func forceTerminate(ctx context.Context, cl *kgo.Client, id string) (int16, error) {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = 60000
	for attempt := 0; attempt < 100; attempt++ {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return -1, err
		}
		err = kerr.ErrorForCode(resp.ErrorCode)
		if err == nil {
			return resp.ProducerEpoch, nil
		}
		if !errors.Is(err, kerr.ConcurrentTransactions) {
			return -1, err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	return -1, errors.New("the coordinator is still completing the transaction; try again")
}
