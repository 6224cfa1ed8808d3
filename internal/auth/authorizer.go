package auth

import (
	"strings"
	"sync/atomic"
)

// AuthorizerConfig is the authorizer's part of the broker config.
type AuthorizerConfig struct {
	// Enabled is set by authorizer.class.name=
	// org.apache.kafka.metadata.authorizer.StandardAuthorizer; when false,
	// every request is allowed.
	Enabled bool
	// SuperUsers is super.users ("User:admin;User:ops"): allowed everything.
	SuperUsers []Principal
	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found: a
	// resource without any ACL is open to everyone (default false: closed).
	AllowEveryoneIfNoACLFound bool
}

// Authorizer decides requests with the semantics of Kafka's
// StandardAuthorizer:
//
//   - super users may do anything;
//   - the ACLs that apply to a resource are those of its type whose
//     pattern matches its name: LITERAL equal to it, LITERAL "*", or
//     PREFIXED with a prefix of it;
//   - among those, an ACL applies to a request when its principal is the
//     request's or "User:*", its host the client's IP or "*", and its
//     operation the requested one or ALL. ALLOW on READ, WRITE, DELETE
//     or ALTER also allows DESCRIBE; ALLOW on ALTER_CONFIGS also allows
//     DESCRIBE_CONFIGS (Kafka's implied operations);
//   - any applicable DENY denies; else any applicable ALLOW allows;
//   - a resource with no ACL at all is allowed only when
//     allow.everyone.if.no.acl.found is set.
//
// Safe for concurrent use; Authorize does not allocate.
type Authorizer struct {
	cfg   AuthorizerConfig
	index atomic.Pointer[aclIndex]
}

// aclIndex holds the ACLs by resource type; immutable once published.
type aclIndex struct {
	byType [ResourceUser + 1]typeACLs
}

type typeACLs struct {
	// literal: by resource name ("*" included); prefixed: every PREFIXED
	// binding (scanned: there are usually few).
	literal  map[string][]Binding
	prefixed []Binding
}

// NewAuthorizer returns an authorizer with no ACLs.
func NewAuthorizer(cfg AuthorizerConfig) *Authorizer {
	a := &Authorizer{cfg: cfg}
	a.index.Store(&aclIndex{})
	return a
}

// Enabled reports whether authorization is on.
func (a *Authorizer) Enabled() bool { return a != nil && a.cfg.Enabled }

// Update replaces the ACLs; bindings that do not validate are ignored.
func (a *Authorizer) Update(bindings []Binding) {
	idx := &aclIndex{}
	for _, b := range bindings {
		if b.Validate() != nil {
			continue
		}
		t := &idx.byType[b.ResourceType]
		if b.PatternType == PatternPrefixed {
			t.prefixed = append(t.prefixed, b)
			continue
		}
		if t.literal == nil {
			t.literal = map[string][]Binding{}
		}
		t.literal[b.ResourceName] = append(t.literal[b.ResourceName], b)
	}
	a.index.Store(idx)
}

// Authorize reports whether principal, connected from host (an IP
// address), may perform op on the resource. Always true when the
// authorizer is off.
func (a *Authorizer) Authorize(p Principal, host string, op Operation, rt ResourceType, name string) bool {
	if !a.Enabled() {
		return true
	}
	for _, su := range a.cfg.SuperUsers {
		if su == p {
			return true
		}
	}
	if rt < ResourceTopic || rt > ResourceUser {
		return false
	}
	t := &a.index.Load().byType[rt]
	var d decision
	if t.literal != nil {
		d.consider(t.literal[name], p, host, op)
		if name != Wildcard {
			d.consider(t.literal[Wildcard], p, host, op)
		}
	}
	for i := range t.prefixed {
		b := &t.prefixed[i]
		if strings.HasPrefix(name, b.ResourceName) {
			d.found = true
			d.apply(b, p, host, op)
		}
	}
	switch {
	case d.denied:
		return false
	case d.allowed:
		return true
	case !d.found:
		return a.cfg.AllowEveryoneIfNoACLFound
	}
	return false
}

// AuthorizeAny reports whether principal may perform op on some resource
// of type rt: Kafka's authorizeByResourceType, used where an operation on
// any topic is enough (InitProducerId for idempotence). Super users and
// allow.everyone.if.no.acl.found (with no ALLOW or DENY for the principal)
// allow; else any ALLOW binding of the principal for op that no DENY on
// the same or a wider pattern undoes.
func (a *Authorizer) AuthorizeAny(p Principal, host string, op Operation, rt ResourceType) bool {
	if !a.Enabled() {
		return true
	}
	for _, su := range a.cfg.SuperUsers {
		if su == p {
			return true
		}
	}
	if rt < ResourceTopic || rt > ResourceUser {
		return false
	}
	t := &a.index.Load().byType[rt]
	found := false
	check := func(b *Binding) bool {
		if !principalMatches(b.Principal, p) || (b.Host != Wildcard && b.Host != host) {
			return false
		}
		found = true
		return b.Permission == PermissionAllow && (b.Operation == op || b.Operation == OpAll) && a.Authorize(p, host, op, rt, b.ResourceName)
	}
	for _, list := range t.literal {
		for i := range list {
			if check(&list[i]) {
				return true
			}
		}
	}
	for i := range t.prefixed {
		if check(&t.prefixed[i]) {
			return true
		}
	}
	return !found && a.cfg.AllowEveryoneIfNoACLFound
}

// decision accumulates the ACLs that apply to one request.
type decision struct {
	found, allowed, denied bool
}

func (d *decision) consider(list []Binding, p Principal, host string, op Operation) {
	if len(list) > 0 {
		d.found = true
	}
	for i := range list {
		d.apply(&list[i], p, host, op)
	}
}

func (d *decision) apply(b *Binding, p Principal, host string, op Operation) {
	if !principalMatches(b.Principal, p) || (b.Host != Wildcard && b.Host != host) {
		return
	}
	if b.Permission == PermissionDeny {
		if b.Operation == op || b.Operation == OpAll {
			d.denied = true
		}
		return
	}
	if b.Operation == op || b.Operation == OpAll || implies(b.Operation, op) {
		d.allowed = true
	}
}

// implies reports whether ALLOW on have also allows want (Kafka's
// implied operations: DESCRIBE from READ, WRITE, DELETE, ALTER;
// DESCRIBE_CONFIGS from ALTER_CONFIGS).
func implies(have, want Operation) bool {
	switch want {
	case OpDescribe:
		return have == OpRead || have == OpWrite || have == OpDelete || have == OpAlter
	case OpDescribeConfigs:
		return have == OpAlterConfigs
	}
	return false
}

// principalMatches compares "Type:name" (or "User:*") with p without
// building p's string.
func principalMatches(acl string, p Principal) bool {
	if len(acl) <= len(p.Type) || acl[len(p.Type)] != ':' || acl[:len(p.Type)] != p.Type {
		return false
	}
	name := acl[len(p.Type)+1:]
	return name == Wildcard || name == p.Name
}
