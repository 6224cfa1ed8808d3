package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

// TestProduceFetchAuthorizationDoesNotAllocate: the checks Produce and
// Fetch make per topic, and the request-level pass before them, decide
// without allocating (issue 8: authorization stays off the allocation
// profile of the data path).
func TestProduceFetchAuthorizationDoesNotAllocate(t *testing.T) {
	a := auth.NewAuthorizer(auth.AuthorizerConfig{Enabled: true, SuperUsers: []auth.Principal{auth.User("admin")}})
	a.Update([]auth.Binding{
		{ResourceType: auth.ResourceTopic, ResourceName: "orders", PatternType: auth.PatternLiteral, Principal: "User:alice", Host: "*",
			Operation: auth.OpWrite, Permission: auth.PermissionAllow},
		{ResourceType: auth.ResourceTopic, ResourceName: "ord", PatternType: auth.PatternPrefixed, Principal: "User:alice", Host: "127.0.0.1",
			Operation: auth.OpRead, Permission: auth.PermissionAllow},
		{ResourceType: auth.ResourceTopic, ResourceName: "*", PatternType: auth.PatternLiteral, Principal: "User:*", Host: "*",
			Operation: auth.OpAlter, Permission: auth.PermissionDeny},
	})
	h := &Handlers{deps: Deps{Authorizer: a}}
	produce := &Request{Body: kmsg.NewPtrProduceRequest(), Principal: auth.User("alice"), ClientHost: "/127.0.0.1"}
	fetch := &Request{Body: kmsg.NewPtrFetchRequest(), Principal: auth.User("alice"), ClientHost: "/127.0.0.1"}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, done, patch := h.authorizeRequest(produce); done || patch != nil {
			t.Fatal("produce decided before its handler")
		}
		if _, done, patch := h.authorizeRequest(fetch); done || patch != nil {
			t.Fatal("fetch decided before its handler")
		}
		if !h.authorized(produce, auth.OpWrite, auth.ResourceTopic, "orders") || !h.authorized(fetch, auth.OpRead, auth.ResourceTopic, "orders") {
			t.Fatal("denied")
		}
		if h.authorized(produce, auth.OpWrite, auth.ResourceTopic, "secret") {
			t.Fatal("allowed without an ACL")
		}
	})
	if allocs != 0 {
		t.Fatalf("produce/fetch authorization allocates %v times per request", allocs)
	}
}
