package api

// DescribeAcls (key 29), versions 0-3.
//   v1: pattern types (v0 filters LITERAL only). v2: flexible. v3: the
//   user resource type.
//
// Needs DESCRIBE on the cluster. Without an authorizer Kafka answers
// SECURITY_DISABLED.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

func (h *Handlers) describeACLs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeACLsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	f := aclFilter(r.ResourceType, r.ResourceName, r.ResourcePatternType, r.Principal, r.Host, r.Operation, r.PermissionType)
	switch {
	case !h.deps.Authorizer.Enabled():
		resp.ErrorCode = kerr.SecurityDisabled.Code
		return respond(resp)
	case !h.authorizedCluster(req, auth.OpDescribe):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return respond(resp)
	case f.Validate() != nil:
		resp.ErrorCode = kerr.InvalidRequest.Code
		msg := f.Validate().Error()
		resp.ErrorMessage = &msg
		return respond(resp)
	}
	type key struct {
		rt   auth.ResourceType
		name string
		pt   auth.PatternType
	}
	byResource := map[key][]kmsg.DescribeACLsResponseResourceACL{}
	for _, a := range h.deps.Metadata.Image().ACLs {
		b := bindingOf(a)
		if !f.Matches(b) {
			continue
		}
		acl := kmsg.NewDescribeACLsResponseResourceACL()
		acl.Principal, acl.Host = b.Principal, b.Host
		acl.Operation, acl.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		k := key{b.ResourceType, b.ResourceName, b.PatternType}
		byResource[k] = append(byResource[k], acl)
	}
	keys := make([]key, 0, len(byResource))
	for k := range byResource {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.rt != b.rt {
			return a.rt < b.rt
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.pt < b.pt
	})
	for _, k := range keys {
		res := kmsg.NewDescribeACLsResponseResource()
		res.ResourceType, res.ResourceName, res.ResourcePatternType = kmsg.ACLResourceType(k.rt), k.name, kmsg.ACLResourcePatternType(k.pt)
		res.ACLs = byResource[k]
		resp.Resources = append(resp.Resources, res)
	}
	return respond(resp)
}
