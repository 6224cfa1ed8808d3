package api

// DescribeClientQuotas (key 48), versions 0-1.
//   v1: flexible.
//
// Needs DESCRIBE_CONFIGS on the cluster (else CLUSTER_AUTHORIZATION_FAILED
// for the whole request). Each filter component names an entity type and
// matches an exact name (match type 0), the default entity (1) or any
// entity with that type (2); with Strict, an entity must have no other
// types. As Kafka's ClientQuotasImage.describe: an unknown type, a type
// given twice, an exact match without a name, or ip combined with user or
// client-id is INVALID_REQUEST.

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/metadata"
)

func (h *Handlers) describeClientQuotas(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeClientQuotasRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	type component struct {
		exact, def bool
		name       string
	}
	filter := map[string]component{}
	fail := func(msg string) Outcome {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, &msg
		return respond(resp)
	}
	for _, c := range r.Components {
		switch c.EntityType {
		case metadata.QuotaEntityUser, metadata.QuotaEntityClientID, metadata.QuotaEntityIP:
		default:
			return fail(fmt.Sprintf("Custom entity type %s not supported", c.EntityType))
		}
		if _, dup := filter[c.EntityType]; dup {
			return fail(fmt.Sprintf("Entity type %s cannot appear more than once in the filter.", c.EntityType))
		}
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if c.Match == nil {
				return fail(fmt.Sprintf("Request specified MATCH_TYPE_EXACT, but set match string to null for entity type %s", c.EntityType))
			}
			filter[c.EntityType] = component{exact: true, name: *c.Match}
		case kmsg.QuotasMatchTypeDefault:
			filter[c.EntityType] = component{def: true}
		case kmsg.QuotasMatchTypeAny:
			filter[c.EntityType] = component{}
		default:
			return fail(fmt.Sprintf("Unknown match type %d", c.MatchType))
		}
	}
	_, ip := filter[metadata.QuotaEntityIP]
	_, user := filter[metadata.QuotaEntityUser]
	_, client := filter[metadata.QuotaEntityClientID]
	if ip && (user || client) {
		return fail("Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	matches := func(e metadata.QuotaEntity) bool {
		parts := map[string]metadata.QuotaEntityName{metadata.QuotaEntityUser: e.User, metadata.QuotaEntityClientID: e.ClientID, metadata.QuotaEntityIP: e.IP}
		for typ, c := range filter {
			n := parts[typ]
			switch {
			case !n.Set:
				return false
			case c.exact && (n.Default || n.Name != c.name):
				return false
			case c.def && !n.Default:
				return false
			}
		}
		if r.Strict {
			for typ, n := range parts {
				if _, ok := filter[typ]; n.Set && !ok {
					return false
				}
			}
		}
		return true
	}
	for e, values := range h.deps.Controller.Image().ClientQuotas {
		if !matches(e) {
			continue
		}
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range e.Parts() {
			ent := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = p.EntityType, p.EntityName
			entry.Entity = append(entry.Entity, ent)
		}
		for k, v := range values {
			val := kmsg.NewDescribeClientQuotasResponseEntryValue()
			val.Key, val.Value = k, v
			entry.Values = append(entry.Values, val)
		}
		sort.Slice(entry.Values, func(i, j int) bool { return entry.Values[i].Key < entry.Values[j].Key })
		resp.Entries = append(resp.Entries, entry)
	}
	sort.Slice(resp.Entries, func(i, j int) bool {
		return entityString(resp.Entries[i].Entity) < entityString(resp.Entries[j].Entity)
	})
	return respond(resp)
}

func entityString(parts []kmsg.DescribeClientQuotasResponseEntryEntity) string {
	s := ""
	for _, p := range parts {
		name := "<default>"
		if p.Name != nil {
			name = *p.Name
		}
		s += p.Type + "=" + name + ";"
	}
	return s
}
