package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The security admin commands: acl (CreateAcls, DescribeAcls,
// DeleteAcls, as kafka-acls.sh), user (SCRAM credentials, as
// kafka-configs.sh --entity-type users) and quota (client quotas, as
// kafka-configs.sh --entity-type users/clients).

// aclOptions are the flags naming ACL bindings (create) or a filter
// (list, delete).
type aclOptions struct {
	principal, host               string
	topic, group, transactionalID string
	cluster                       bool
	patternType                   string
	operations                    []string
	deny                          bool
}

func addACLFlags(cmd *cobra.Command, o *aclOptions, create bool) {
	f := cmd.Flags()
	f.StringVar(&o.principal, "principal", "", "principal, e.g. User:alice")
	host := "host the binding applies to"
	if create {
		f.StringVar(&o.host, "host", "*", host)
	} else {
		f.StringVar(&o.host, "host", "", host+" (default: any)")
	}
	f.StringVar(&o.topic, "topic", "", "topic resource (* for all topics)")
	f.StringVar(&o.group, "group", "", "consumer group resource")
	f.StringVar(&o.transactionalID, "transactional-id", "", "transactional id resource")
	f.BoolVar(&o.cluster, "cluster", false, "the cluster resource")
	pt := "literal"
	if !create {
		pt = "any"
	}
	f.StringVar(&o.patternType, "resource-pattern-type", pt, "literal or prefixed"+map[bool]string{false: " (or any, match)", true: ""}[create])
	f.StringSliceVar(&o.operations, "operation", nil, "operations: read, write, create, delete, alter, describe, cluster-action, describe-configs, alter-configs, idempotent-write, all (repeatable or comma-separated)")
	f.BoolVar(&o.deny, "deny", false, "a DENY binding (default ALLOW)")
}

// aclResource returns the resource type and name the flags name; ok
// false when none is named.
func (o *aclOptions) resource() (kmsg.ACLResourceType, string, bool, error) {
	var rt kmsg.ACLResourceType
	var name string
	n := 0
	if o.topic != "" {
		rt, name, n = kmsg.ACLResourceTypeTopic, o.topic, n+1
	}
	if o.group != "" {
		rt, name, n = kmsg.ACLResourceTypeGroup, o.group, n+1
	}
	if o.transactionalID != "" {
		rt, name, n = kmsg.ACLResourceTypeTransactionalId, o.transactionalID, n+1
	}
	if o.cluster {
		rt, name, n = kmsg.ACLResourceTypeCluster, "kafka-cluster", n+1
	}
	if n > 1 {
		return 0, "", false, errors.New("name one resource: --topic, --group, --transactional-id or --cluster")
	}
	return rt, name, n == 1, nil
}

func parseACLOperations(ops []string) ([]kmsg.ACLOperation, error) {
	var out []kmsg.ACLOperation
	for _, s := range ops {
		op, err := kmsg.ParseACLOperation(strings.ReplaceAll(s, "-", "_"))
		if err != nil || op == kmsg.ACLOperationUnknown {
			return nil, fmt.Errorf("invalid --operation %q", s)
		}
		out = append(out, op)
	}
	return out, nil
}

func newACLCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acl",
		Short: "Create, list and delete ACLs",
		Long: `Manage the cluster's ACLs (Kafka's StandardAuthorizer model), as kafka-acls.sh
does. The broker must run with authorizer.class.name set.

Examples:
  arus acl create --principal User:alice --topic orders --operation read,describe
  arus acl create --principal User:alice --group billing- --resource-pattern-type prefixed --operation read
  arus acl create --principal User:mallory --topic '*' --operation all --deny
  arus acl list --principal User:alice
  arus acl delete --principal User:alice --topic orders`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(newACLCreateCommand(), newACLListCommand(), newACLDeleteCommand())
	return cmd
}

func newACLCreateCommand() *cobra.Command {
	o := &aclOptions{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create ACL bindings (one per operation)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, name, ok, err := o.resource()
			if err != nil {
				return err
			}
			if !ok || o.principal == "" || len(o.operations) == 0 {
				return errors.New("create needs --principal, a resource (--topic, --group, --transactional-id or --cluster) and --operation")
			}
			pt, err := kmsg.ParseACLResourcePatternType(o.patternType)
			if err != nil || (pt != kmsg.ACLResourcePatternTypeLiteral && pt != kmsg.ACLResourcePatternTypePrefixed) {
				return fmt.Errorf("invalid --resource-pattern-type %q: want literal or prefixed", o.patternType)
			}
			ops, err := parseACLOperations(o.operations)
			if err != nil {
				return err
			}
			perm := kmsg.ACLPermissionTypeAllow
			if o.deny {
				perm = kmsg.ACLPermissionTypeDeny
			}
			req := kmsg.NewPtrCreateACLsRequest()
			for _, op := range ops {
				c := kmsg.NewCreateACLsRequestCreation()
				c.ResourceType, c.ResourceName, c.ResourcePatternType = rt, name, pt
				c.Principal, c.Host, c.Operation, c.PermissionType = o.principal, o.host, op, perm
				req.Creations = append(req.Creations, c)
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			resp, err := req.RequestWith(commandContext(cmd), cl)
			if err != nil {
				return fmt.Errorf("create acls: %w", err)
			}
			for i, r := range resp.Results {
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					return kafkaError(fmt.Errorf("create acl %s: %w", ops[i], err), derefString(r.ErrorMessage))
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %d ACL binding(s) for %s on %s %s\n", len(ops), o.principal, strings.ToLower(rt.String()), name)
			return nil
		},
	}
	addACLFlags(cmd, o, true)
	return cmd
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// filter returns the DescribeAcls/DeleteAcls filter of the flags.
func (o *aclOptions) filter() (kmsg.DescribeACLsRequest, error) {
	f := kmsg.NewDescribeACLsRequest()
	f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	rt, name, ok, err := o.resource()
	if err != nil {
		return f, err
	}
	if ok {
		f.ResourceType, f.ResourceName = rt, &name
	}
	pt, err := kmsg.ParseACLResourcePatternType(o.patternType)
	if err != nil || pt == kmsg.ACLResourcePatternTypeUnknown {
		return f, fmt.Errorf("invalid --resource-pattern-type %q: want any, match, literal or prefixed", o.patternType)
	}
	f.ResourcePatternType = pt
	if o.principal != "" {
		f.Principal = &o.principal
	}
	if o.host != "" {
		f.Host = &o.host
	}
	if len(o.operations) > 1 {
		return f, errors.New("filter on at most one --operation")
	}
	if len(o.operations) == 1 {
		ops, err := parseACLOperations(o.operations)
		if err != nil {
			return f, err
		}
		f.Operation = ops[0]
	}
	if o.deny {
		f.PermissionType = kmsg.ACLPermissionTypeDeny
	}
	return f, nil
}

type aclRow struct {
	rt              kmsg.ACLResourceType
	name            string
	pt              kmsg.ACLResourcePatternType
	principal, host string
	op              kmsg.ACLOperation
	perm            kmsg.ACLPermissionType
}

func writeACLs(w io.Writer, rows []aclRow) error {
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.rt != b.rt || a.name != b.name {
			return a.rt < b.rt || (a.rt == b.rt && a.name < b.name)
		}
		if a.principal != b.principal {
			return a.principal < b.principal
		}
		return a.op < b.op
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE-TYPE\tNAME\tPATTERN\tPRINCIPAL\tHOST\tOPERATION\tPERMISSION")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", strings.ToLower(r.rt.String()), r.name, strings.ToLower(r.pt.String()),
			r.principal, r.host, strings.ToLower(r.op.String()), strings.ToLower(r.perm.String()))
	}
	return tw.Flush()
}

func newACLListCommand() *cobra.Command {
	o := &aclOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the ACL bindings matching the flags (all without flags)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := o.filter()
			if err != nil {
				return err
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			resp, err := f.RequestWith(commandContext(cmd), cl)
			if err != nil {
				return fmt.Errorf("describe acls: %w", err)
			}
			if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
				return kafkaError(fmt.Errorf("describe acls: %w", err), derefString(resp.ErrorMessage))
			}
			var rows []aclRow
			for _, res := range resp.Resources {
				for _, a := range res.ACLs {
					rows = append(rows, aclRow{res.ResourceType, res.ResourceName, res.ResourcePatternType, a.Principal, a.Host, a.Operation, a.PermissionType})
				}
			}
			return writeACLs(cmd.OutOrStdout(), rows)
		},
	}
	addACLFlags(cmd, o, false)
	return cmd
}

func newACLDeleteCommand() *cobra.Command {
	o := &aclOptions{}
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete the ACL bindings matching the flags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := o.filter()
			if err != nil {
				return err
			}
			if f.Principal == nil && f.ResourceName == nil {
				return errors.New("delete needs --principal or a resource, so it does not remove every ACL by accident")
			}
			df := kmsg.NewDeleteACLsRequestFilter()
			df.ResourceType, df.ResourceName, df.ResourcePatternType = f.ResourceType, f.ResourceName, f.ResourcePatternType
			df.Principal, df.Host, df.Operation, df.PermissionType = f.Principal, f.Host, f.Operation, f.PermissionType
			req := kmsg.NewPtrDeleteACLsRequest()
			req.Filters = append(req.Filters, df)
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			resp, err := req.RequestWith(commandContext(cmd), cl)
			if err != nil {
				return fmt.Errorf("delete acls: %w", err)
			}
			var rows []aclRow
			for _, r := range resp.Results {
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					return kafkaError(fmt.Errorf("delete acls: %w", err), derefString(r.ErrorMessage))
				}
				for _, m := range r.MatchingACLs {
					rows = append(rows, aclRow{m.ResourceType, m.ResourceName, m.ResourcePatternType, m.Principal, m.Host, m.Operation, m.PermissionType})
				}
			}
			fmt.Fprintf(errWriter(cmd), "deleted %d ACL binding(s)\n", len(rows))
			return writeACLs(cmd.OutOrStdout(), rows)
		},
	}
	addACLFlags(cmd, o, false)
	return cmd
}

func newUserCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage SCRAM users",
		Long: `Set, delete and list users' SCRAM credentials (SCRAM-SHA-256, SCRAM-SHA-512),
as kafka-configs.sh --alter --entity-type users --add-config SCRAM-SHA-512=[password=...]
does. The password is read from --password-file or $ARUS_NEW_PASSWORD, never from
the command line; only a salted hash of it reaches the cluster.

Examples:
  ARUS_NEW_PASSWORD=secret arus user scram set alice --mechanism SCRAM-SHA-512
  arus user scram list
  arus user scram delete alice --mechanism SCRAM-SHA-512`,
	}
	addClientFlags(cmd)
	scramCmd := &cobra.Command{Use: "scram", Short: "SCRAM credentials"}
	scramCmd.AddCommand(newUserScramSetCommand(), newUserScramDeleteCommand(), newUserScramListCommand())
	cmd.AddCommand(scramCmd)
	return cmd
}

// newPasswordEnv holds the password of `user scram set` when
// --new-password-file is not given.
const newPasswordEnv = "ARUS_NEW_PASSWORD"

func parseScramMechanism(s string) (kadm.ScramMechanism, error) {
	switch strings.ToUpper(s) {
	case "SCRAM-SHA-256":
		return kadm.ScramSha256, nil
	case "SCRAM-SHA-512":
		return kadm.ScramSha512, nil
	}
	return 0, fmt.Errorf("invalid --mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", s)
}

func newUserScramSetCommand() *cobra.Command {
	var mechanism, passwordFile string
	var iterations int32
	cmd := &cobra.Command{
		Use:   "set USER",
		Short: "Create or change a user's SCRAM credential",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mech, err := parseScramMechanism(mechanism)
			if err != nil {
				return err
			}
			password := os.Getenv(newPasswordEnv)
			if passwordFile != "" {
				b, err := os.ReadFile(passwordFile)
				if err != nil {
					return fmt.Errorf("--new-password-file: %w", err)
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if password == "" {
				return fmt.Errorf("no password: give --new-password-file or $%s", newPasswordEnv)
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			res, err := kadm.NewClient(cl).AlterUserSCRAMs(commandContext(cmd), nil,
				[]kadm.UpsertSCRAM{{User: args[0], Mechanism: mech, Iterations: iterations, Password: password}})
			if err != nil {
				return fmt.Errorf("alter scram credentials: %w", err)
			}
			if r := res[args[0]]; r.Err != nil {
				return kafkaError(fmt.Errorf("set %s credential of %s: %w", mech, args[0], r.Err), r.ErrMessage)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "set %s credential of user %s (%d iterations)\n", mech, args[0], iterations)
			return nil
		},
	}
	cmd.Flags().StringVar(&mechanism, "mechanism", "SCRAM-SHA-512", "SCRAM-SHA-256 or SCRAM-SHA-512")
	cmd.Flags().Int32Var(&iterations, "iterations", 8192, "PBKDF2 iterations (4096 to 16384)")
	cmd.Flags().StringVar(&passwordFile, "new-password-file", "", "file holding the user's new password (else $"+newPasswordEnv+")")
	return cmd
}

func newUserScramDeleteCommand() *cobra.Command {
	var mechanism string
	cmd := &cobra.Command{
		Use:   "delete USER",
		Short: "Delete a user's SCRAM credential",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mech, err := parseScramMechanism(mechanism)
			if err != nil {
				return err
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			res, err := kadm.NewClient(cl).AlterUserSCRAMs(commandContext(cmd), []kadm.DeleteSCRAM{{User: args[0], Mechanism: mech}}, nil)
			if err != nil {
				return fmt.Errorf("alter scram credentials: %w", err)
			}
			if r := res[args[0]]; r.Err != nil {
				return kafkaError(fmt.Errorf("delete %s credential of %s: %w", mech, args[0], r.Err), r.ErrMessage)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s credential of user %s\n", mech, args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&mechanism, "mechanism", "SCRAM-SHA-512", "SCRAM-SHA-256 or SCRAM-SHA-512")
	return cmd
}

func newUserScramListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list [USER...]",
		Short: "List users with SCRAM credentials (mechanisms and iterations, never secrets)",
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			res, err := kadm.NewClient(cl).DescribeUserSCRAMs(commandContext(cmd), args...)
			if err != nil {
				return fmt.Errorf("describe scram credentials: %w", err)
			}
			users := make([]string, 0, len(res))
			for u := range res {
				users = append(users, u)
			}
			sort.Strings(users)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tMECHANISM\tITERATIONS")
			for _, u := range users {
				r := res[u]
				if r.Err != nil {
					fmt.Fprintf(tw, "%s\t(error: %v)\t\n", u, r.Err)
					continue
				}
				for _, c := range r.CredInfos {
					fmt.Fprintf(tw, "%s\t%s\t%d\n", u, c.Mechanism, c.Iterations)
				}
			}
			return tw.Flush()
		},
	}
}

func newQuotaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quota",
		Short: "Set and describe client quotas",
		Long: `Client quotas per user, client id, or both, as kafka-configs.sh
--entity-type users/clients does: producer_byte_rate and consumer_byte_rate
(bytes per second), request_percentage, controller_mutation_rate. An entity
named "default" (--default-user, --default-client) applies to every user or
client without a quota of its own. Producers and consumers over their byte
rate are throttled.

Examples:
  arus quota set --quota-user alice producer_byte_rate=1048576 consumer_byte_rate=2097152
  arus quota set --default-user --client-id batch producer_byte_rate=524288
  arus quota set --quota-user alice --delete producer_byte_rate
  arus quota describe
  arus quota describe --quota-user alice`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(newQuotaSetCommand(), newQuotaDescribeCommand())
	return cmd
}

type quotaEntityOptions struct {
	user, clientID             string
	userDefault, clientDefault bool
}

func addQuotaEntityFlags(cmd *cobra.Command, o *quotaEntityOptions) {
	f := cmd.Flags()
	f.StringVar(&o.user, "quota-user", "", "user the quota applies to (--user is the SASL login)")
	f.BoolVar(&o.userDefault, "default-user", false, "the default user entity")
	f.StringVar(&o.clientID, "client-id", "", "client id the quota applies to")
	f.BoolVar(&o.clientDefault, "default-client", false, "the default client-id entity")
}

// entity returns the quota entity of the flags (user, then client-id).
func (o *quotaEntityOptions) entity(cmd *cobra.Command) (kadm.ClientQuotaEntity, error) {
	var e kadm.ClientQuotaEntity
	if o.user != "" && o.userDefault || o.clientID != "" && o.clientDefault {
		return nil, errors.New("give a name or the default, not both")
	}
	if o.user != "" || o.userDefault {
		c := kadm.ClientQuotaEntityComponent{Type: "user"}
		if !o.userDefault {
			c.Name = &o.user
		}
		e = append(e, c)
	}
	if cmd.Flags().Changed("client-id") || o.clientDefault {
		c := kadm.ClientQuotaEntityComponent{Type: "client-id"}
		if !o.clientDefault {
			c.Name = &o.clientID
		}
		e = append(e, c)
	}
	return e, nil
}

func newQuotaSetCommand() *cobra.Command {
	o := &quotaEntityOptions{}
	var deletes []string
	cmd := &cobra.Command{
		Use:   "set (--quota-user U | --default-user) [--client-id C | --default-client] [key=value...]",
		Short: "Set or delete quota values of one entity",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := o.entity(cmd)
			if err != nil {
				return err
			}
			if len(e) == 0 {
				return errors.New("name the entity: --quota-user, --default-user, --client-id or --default-client")
			}
			var ops []kadm.AlterClientQuotaOp
			for _, a := range args {
				k, v, err := parseKeyValue("quota", a)
				if err != nil {
					return err
				}
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return fmt.Errorf("quota %s=%q: not a number", k, v)
				}
				ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: f})
			}
			for _, k := range deletes {
				ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
			}
			if len(ops) == 0 {
				return errors.New("nothing to change: give key=value arguments or --delete KEY")
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			res, err := kadm.NewClient(cl).AlterClientQuotas(commandContext(cmd), []kadm.AlterClientQuotaEntry{{Entity: e, Ops: ops}})
			if err != nil {
				return fmt.Errorf("alter client quotas: %w", err)
			}
			for _, r := range res {
				if r.Err != nil {
					return kafkaError(fmt.Errorf("alter quotas of %s: %w", e, r.Err), r.ErrMessage)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "updated quotas of %s\n", e)
			return nil
		},
	}
	addQuotaEntityFlags(cmd, o)
	cmd.Flags().StringSliceVar(&deletes, "delete", nil, "quota keys to remove (repeatable or comma-separated)")
	return cmd
}

func newQuotaDescribeCommand() *cobra.Command {
	o := &quotaEntityOptions{}
	cmd := &cobra.Command{
		Use:   "describe [--quota-user U | --default-user] [--client-id C | --default-client]",
		Short: "Show client quotas (all, or the entities matching the flags)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := o.entity(cmd)
			if err != nil {
				return err
			}
			var filter []kadm.DescribeClientQuotaComponent
			for _, c := range e {
				fc := kadm.DescribeClientQuotaComponent{Type: c.Type, MatchName: c.Name, MatchType: kmsg.QuotasMatchTypeExact}
				if c.Name == nil {
					fc.MatchType = kmsg.QuotasMatchTypeDefault
				}
				filter = append(filter, fc)
			}
			cl, err := newClient(cmd)
			if err != nil {
				return err
			}
			defer cl.Close()
			got, err := kadm.NewClient(cl).DescribeClientQuotas(commandContext(cmd), false, filter)
			if err != nil {
				return fmt.Errorf("describe client quotas: %w", err)
			}
			sort.Slice(got, func(i, j int) bool { return got[i].Entity.String() < got[j].Entity.String() })
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTITY\tQUOTA\tVALUE")
			for _, q := range got {
				for _, v := range q.Values {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", q.Entity, v.Key, strconv.FormatFloat(v.Value, 'f', -1, 64))
				}
			}
			return tw.Flush()
		},
	}
	addQuotaEntityFlags(cmd, o)
	return cmd
}
