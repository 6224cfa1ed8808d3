package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/metadata"
)

// ACL conversions between requests, auth and metadata records.

func bindingOf(r metadata.AccessControlEntryRecord) auth.Binding {
	return auth.Binding{
		ResourceType: auth.ResourceType(r.ResourceType), ResourceName: r.ResourceName,
		PatternType: auth.PatternType(r.PatternType), Principal: r.Principal, Host: r.Host,
		Operation: auth.Operation(r.Operation), Permission: auth.Permission(r.PermissionType),
	}
}

func recordOf(b auth.Binding) metadata.AccessControlEntryRecord {
	return metadata.AccessControlEntryRecord{
		ResourceType: int8(b.ResourceType), ResourceName: b.ResourceName, PatternType: int8(b.PatternType),
		Principal: b.Principal, Host: b.Host, Operation: int8(b.Operation), PermissionType: int8(b.Permission),
	}
}

// Bindings returns the ACLs of an image (the broker feeds them to its
// Authorizer when the image changes).
func Bindings(im *metadata.Image) []auth.Binding {
	out := make([]auth.Binding, 0, len(im.ACLs))
	for _, a := range im.ACLs {
		out = append(out, bindingOf(a))
	}
	return out
}

func aclFilter(rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType, principal, host *string,
	op kmsg.ACLOperation, perm kmsg.ACLPermissionType) auth.Filter {
	return auth.Filter{ResourceType: auth.ResourceType(rt), ResourceName: name, PatternType: auth.PatternType(pt),
		Principal: principal, Host: host, Operation: auth.Operation(op), Permission: auth.Permission(perm)}
}
