package auth

import "testing"

func TestAuthorize(t *testing.T) {
	alice, bob, admin := User("alice"), User("bob"), User("admin")
	acls := []Binding{
		{ResourceTopic, "orders", PatternLiteral, "User:alice", "*", OpRead, PermissionAllow},
		{ResourceTopic, "orders", PatternLiteral, "User:alice", "10.0.0.9", OpAll, PermissionDeny},
		{ResourceTopic, "logs-", PatternPrefixed, "User:bob", "*", OpWrite, PermissionAllow},
		{ResourceTopic, "logs-secret", PatternLiteral, "User:*", "*", OpAll, PermissionDeny},
		{ResourceTopic, "*", PatternLiteral, "User:carol", "*", OpDescribe, PermissionAllow},
		{ResourceGroup, "g", PatternLiteral, "User:alice", "*", OpRead, PermissionAllow},
		{ResourceCluster, ClusterName, PatternLiteral, "User:alice", "*", OpAlterConfigs, PermissionAllow},
	}
	for _, allowNoACL := range []bool{false, true} {
		a := NewAuthorizer(AuthorizerConfig{Enabled: true, SuperUsers: []Principal{admin}, AllowEveryoneIfNoACLFound: allowNoACL})
		a.Update(acls)
		cases := []struct {
			name string
			p    Principal
			host string
			op   Operation
			rt   ResourceType
			res  string
			want bool
		}{
			{"literal allow", alice, "127.0.0.1", OpRead, ResourceTopic, "orders", true},
			{"read implies describe", alice, "127.0.0.1", OpDescribe, ResourceTopic, "orders", true},
			{"no write", alice, "127.0.0.1", OpWrite, ResourceTopic, "orders", false},
			{"deny from host wins", alice, "10.0.0.9", OpRead, ResourceTopic, "orders", false},
			{"other principal", bob, "127.0.0.1", OpRead, ResourceTopic, "orders", false},
			{"prefixed", bob, "127.0.0.1", OpWrite, ResourceTopic, "logs-app", true},
			// the "*" binding for carol is an ACL on every topic, so no topic is ACL-free
			{"prefixed is not literal", bob, "127.0.0.1", OpWrite, ResourceTopic, "logs", false},
			{"wildcard principal deny", bob, "127.0.0.1", OpWrite, ResourceTopic, "logs-secret", false},
			{"wildcard resource", User("carol"), "127.0.0.1", OpDescribe, ResourceTopic, "anything", true},
			{"wildcard resource other op", User("carol"), "127.0.0.1", OpRead, ResourceTopic, "anything", false},
			{"super user", admin, "127.0.0.1", OpDelete, ResourceTopic, "logs-secret", true},
			{"group", alice, "127.0.0.1", OpRead, ResourceGroup, "g", true},
			{"group describe implied", alice, "127.0.0.1", OpDescribe, ResourceGroup, "g", true},
			{"no acl group", alice, "127.0.0.1", OpRead, ResourceGroup, "other", allowNoACL},
			{"alter configs implies describe configs", alice, "127.0.0.1", OpDescribeConfigs, ResourceCluster, ClusterName, true},
			{"no implied alter", alice, "127.0.0.1", OpAlter, ResourceCluster, ClusterName, false},
		}
		for _, c := range cases {
			if got := a.Authorize(c.p, c.host, c.op, c.rt, c.res); got != c.want {
				t.Errorf("allow.everyone.if.no.acl.found=%v %s: got %v, want %v", allowNoACL, c.name, got, c.want)
			}
		}
	}
	off := NewAuthorizer(AuthorizerConfig{})
	off.Update(acls)
	if !off.Authorize(bob, "127.0.0.1", OpRead, ResourceTopic, "orders") {
		t.Error("a disabled authorizer must allow everything")
	}
}

func TestAuthorizeAny(t *testing.T) {
	a := NewAuthorizer(AuthorizerConfig{Enabled: true})
	a.Update([]Binding{
		{ResourceTopic, "t", PatternLiteral, "User:alice", "*", OpWrite, PermissionAllow},
		{ResourceTopic, "t", PatternLiteral, "User:bob", "*", OpWrite, PermissionAllow},
		{ResourceTopic, "t", PatternPrefixed, "User:bob", "*", OpWrite, PermissionDeny},
	})
	if !a.AuthorizeAny(User("alice"), "h", OpWrite, ResourceTopic) {
		t.Error("alice may write some topic")
	}
	if a.AuthorizeAny(User("bob"), "h", OpWrite, ResourceTopic) {
		t.Error("bob's allow is undone by a deny")
	}
	if a.AuthorizeAny(User("carol"), "h", OpWrite, ResourceTopic) {
		t.Error("carol has no acl")
	}
}

func TestAuthorizeDoesNotAllocate(t *testing.T) {
	a := NewAuthorizer(AuthorizerConfig{Enabled: true})
	a.Update([]Binding{
		{ResourceTopic, "orders", PatternLiteral, "User:alice", "*", OpWrite, PermissionAllow},
		{ResourceTopic, "ord", PatternPrefixed, "User:bob", "*", OpWrite, PermissionAllow},
	})
	p := User("alice")
	allocs := testing.AllocsPerRun(1000, func() {
		if !a.Authorize(p, "127.0.0.1", OpWrite, ResourceTopic, "orders") {
			t.Fatal("denied")
		}
	})
	if allocs != 0 {
		t.Fatalf("Authorize allocates %v times per call", allocs)
	}
}

func BenchmarkAuthorize(b *testing.B) {
	a := NewAuthorizer(AuthorizerConfig{Enabled: true})
	var acls []Binding
	for i := range 100 {
		acls = append(acls, Binding{ResourceTopic, "topic-" + string(rune('a'+i%26)) + string(rune('a'+i/26)), PatternLiteral, "User:alice", "*", OpWrite, PermissionAllow})
	}
	acls = append(acls, Binding{ResourceTopic, "topic-", PatternPrefixed, "User:bob", "*", OpRead, PermissionAllow})
	a.Update(acls)
	p := User("alice")
	b.ReportAllocs()
	for b.Loop() {
		a.Authorize(p, "127.0.0.1", OpWrite, ResourceTopic, "topic-ab")
	}
}

func TestFilterMatches(t *testing.T) {
	name := "logs-app"
	b := Binding{ResourceTopic, "logs-", PatternPrefixed, "User:bob", "*", OpWrite, PermissionAllow}
	if !(Filter{ResourceType: ResourceTopic, ResourceName: &name, PatternType: PatternMatch, Operation: OpAny, Permission: PermissionAny}).Matches(b) {
		t.Error("MATCH filter should select a prefix binding")
	}
	if (Filter{ResourceType: ResourceTopic, ResourceName: &name, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}).Matches(b) {
		t.Error("ANY filter with a name selects exact names only")
	}
	if (Filter{ResourceType: ResourceAny, PatternType: PatternLiteral, Operation: OpAny, Permission: PermissionAny}).Matches(b) {
		t.Error("LITERAL filter must not select PREFIXED")
	}
}

func FuzzAuthorize(f *testing.F) {
	f.Add("orders", "ord", "User:alice", "127.0.0.1", int8(3))
	f.Fuzz(func(t *testing.T, resource, prefix, principal, host string, op int8) {
		a := NewAuthorizer(AuthorizerConfig{Enabled: true})
		a.Update([]Binding{
			{ResourceTopic, prefix, PatternPrefixed, principal, host, Operation(op), PermissionAllow},
			{ResourceTopic, resource, PatternLiteral, principal, "*", OpAll, PermissionDeny},
		})
		p, err := ParsePrincipal(principal)
		if err != nil {
			return
		}
		if a.Authorize(p, host, Operation(op), ResourceTopic, resource) {
			t.Fatalf("a DENY ALL on %q must win", resource)
		}
	})
}
