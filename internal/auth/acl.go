package auth

import (
	"errors"
	"fmt"
	"strings"
)

// ResourceType, PatternType, Operation and Permission carry Kafka's wire
// codes (org.apache.kafka.common.resource.ResourceType and friends), so
// requests and metadata records hold them as they are.
type (
	ResourceType int8
	PatternType  int8
	Operation    int8
	Permission   int8
)

// Resource types.
const (
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

// Pattern types. PatternMatch is a filter only: it matches LITERAL
// bindings equal to the name or "*", and PREFIXED bindings that are a
// prefix of the name.
const (
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operations.
const (
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
	OpCreateTokens    Operation = 13
	OpDescribeTokens  Operation = 14
)

// Permissions.
const (
	PermissionAny   Permission = 1
	PermissionDeny  Permission = 2
	PermissionAllow Permission = 3
)

// ClusterName is the name of the one cluster resource.
const ClusterName = "kafka-cluster"

// Wildcard is the LITERAL resource name, principal and host that match any.
const Wildcard = "*"

// Binding is one ACL: a resource pattern and an access control entry.
type Binding struct {
	ResourceType ResourceType
	ResourceName string
	PatternType  PatternType
	Principal    string // "User:alice" or "User:*"
	Host         string // an IP or "*"
	Operation    Operation
	Permission   Permission
}

func (b Binding) String() string {
	return fmt.Sprintf("(%s %s %q) %s %s from %s: %s", patternNames[b.PatternType], resourceNames[b.ResourceType], b.ResourceName,
		permissionNames[b.Permission], b.Principal, b.Host, operationNames[b.Operation])
}

// Errors of Validate, returned for bindings a CreateAcls may not create.
var (
	// ErrInvalidBinding: an unknown or filter-only value (ANY, MATCH), an
	// empty name, a principal that is not Type:name.
	ErrInvalidBinding = errors.New("auth: invalid ACL binding")
)

// Validate checks that b can be stored (Kafka's AclControlManager.validateNewAcl).
func (b Binding) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidBinding}, args...)...)
	}
	switch {
	case b.ResourceType < ResourceTopic || b.ResourceType > ResourceUser:
		return bad("resource type %d", b.ResourceType)
	case b.PatternType != PatternLiteral && b.PatternType != PatternPrefixed:
		return bad("pattern type %d", b.PatternType)
	case b.Operation < OpAll || b.Operation > OpDescribeTokens:
		return bad("operation %d", b.Operation)
	case b.Permission != PermissionAllow && b.Permission != PermissionDeny:
		return bad("permission type %d", b.Permission)
	case b.ResourceName == "":
		return bad("empty resource name")
	case b.Host == "":
		return bad("empty host")
	case b.ResourceType == ResourceCluster && b.ResourceName != ClusterName:
		return bad("the cluster resource is named %s", ClusterName)
	}
	if _, err := ParsePrincipal(b.Principal); err != nil {
		return bad("principal %q", b.Principal)
	}
	return nil
}

// Filter selects bindings (DescribeAcls, DeleteAcls). Nil strings match
// any value; ANY matches any type, pattern, operation or permission.
type Filter struct {
	ResourceType ResourceType
	ResourceName *string
	PatternType  PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// Validate rejects filters with unknown values (INVALID_REQUEST in Kafka).
func (f Filter) Validate() error {
	switch {
	case f.ResourceType < ResourceAny || f.ResourceType > ResourceUser,
		f.PatternType < PatternAny || f.PatternType > PatternPrefixed,
		f.Operation < OpAny || f.Operation > OpDescribeTokens,
		f.Permission < PermissionAny || f.Permission > PermissionAllow:
		return fmt.Errorf("%w: filter has an unknown value", ErrInvalidBinding)
	}
	return nil
}

// Matches reports whether b is selected by f, as Kafka's AclBindingFilter.matches.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != b.ResourceType {
		return false
	}
	switch f.PatternType {
	case PatternAny:
		if f.ResourceName != nil && *f.ResourceName != b.ResourceName {
			return false
		}
	case PatternMatch:
		if f.ResourceName != nil {
			name := *f.ResourceName
			switch b.PatternType {
			case PatternLiteral:
				if b.ResourceName != name && b.ResourceName != Wildcard {
					return false
				}
			case PatternPrefixed:
				if !strings.HasPrefix(name, b.ResourceName) {
					return false
				}
			default:
				return false
			}
		}
	default:
		if f.PatternType != b.PatternType || (f.ResourceName != nil && *f.ResourceName != b.ResourceName) {
			return false
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == PermissionAny || f.Permission == b.Permission
}

var resourceNames = map[ResourceType]string{ResourceAny: "ANY", ResourceTopic: "TOPIC", ResourceGroup: "GROUP",
	ResourceCluster: "CLUSTER", ResourceTransactionalID: "TRANSACTIONAL_ID", ResourceDelegationToken: "DELEGATION_TOKEN", ResourceUser: "USER"}

var patternNames = map[PatternType]string{PatternAny: "ANY", PatternMatch: "MATCH", PatternLiteral: "LITERAL", PatternPrefixed: "PREFIXED"}

var operationNames = map[Operation]string{OpAny: "ANY", OpAll: "ALL", OpRead: "READ", OpWrite: "WRITE", OpCreate: "CREATE",
	OpDelete: "DELETE", OpAlter: "ALTER", OpDescribe: "DESCRIBE", OpClusterAction: "CLUSTER_ACTION",
	OpDescribeConfigs: "DESCRIBE_CONFIGS", OpAlterConfigs: "ALTER_CONFIGS", OpIdempotentWrite: "IDEMPOTENT_WRITE",
	OpCreateTokens: "CREATE_TOKENS", OpDescribeTokens: "DESCRIBE_TOKENS"}

var permissionNames = map[Permission]string{PermissionAny: "ANY", PermissionDeny: "DENY", PermissionAllow: "ALLOW"}

// Names of the enums as Kafka's tools print and parse them.
func (r ResourceType) String() string { return nameOr(resourceNames[r], int8(r)) }
func (p PatternType) String() string  { return nameOr(patternNames[p], int8(p)) }
func (o Operation) String() string    { return nameOr(operationNames[o], int8(o)) }
func (p Permission) String() string   { return nameOr(permissionNames[p], int8(p)) }

func nameOr(name string, code int8) string {
	if name == "" {
		return fmt.Sprintf("UNKNOWN(%d)", code)
	}
	return name
}

// ParseResourceType, ParsePatternType, ParseOperation and ParsePermission
// read the names (case-insensitive, '-' or '_').
func ParseResourceType(s string) (ResourceType, bool) {
	return parseEnum(resourceNames, s)
}

// ParsePatternType: see ParseResourceType.
func ParsePatternType(s string) (PatternType, bool) { return parseEnum(patternNames, s) }

// ParseOperation: see ParseResourceType.
func ParseOperation(s string) (Operation, bool) { return parseEnum(operationNames, s) }

// ParsePermission: see ParseResourceType.
func ParsePermission(s string) (Permission, bool) { return parseEnum(permissionNames, s) }

func parseEnum[T ~int8](names map[T]string, s string) (T, bool) {
	s = strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	for k, v := range names {
		if v == s {
			return k, true
		}
	}
	return 0, false
}
