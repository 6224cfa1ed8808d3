package api

// AlterClientQuotas (key 49), versions 0-1.
//   v1: flexible.
//
// Needs ALTER_CONFIGS on the cluster (else CLUSTER_AUTHORIZATION_FAILED
// for every entry). Runs on the active controller (forwarded), which
// commits ClientQuota records. Each entry is checked as Kafka's
// ClientQuotaControlManager does: a known, non-repeated entity type, ip
// only on its own (and a valid address), a key valid for the entity
// (producer_byte_rate and consumer_byte_rate whole numbers,
// request_percentage and controller_mutation_rate any number;
// connection_creation_rate for ip), else INVALID_REQUEST. An entry
// applies whole or not at all; ValidateOnly checks without committing.

import (
	"context"
	"fmt"
	"math"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/quota"
)

// quotaKeyWhole tells, per valid key of user/client-id entities, whether
// its value must be a whole number (Kafka's LONG type).
var quotaKeyWhole = map[string]bool{
	quota.ProducerByteRate: true, quota.ConsumerByteRate: true,
	quota.RequestPercentage: false, quota.ControllerMutationRate: false,
}

func (h *Handlers) alterClientQuotas(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AlterClientQuotasRequest)
	resp := r.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	authorized := h.authorizedCluster(req, auth.OpAlterConfigs)
	var changes []metadata.ClientQuotaRecord
	var owners []int // entry index of each change
	for i, e := range r.Entries {
		res := kmsg.NewAlterClientQuotasResponseEntry()
		parts := make([]metadata.ClientQuotaEntityData, 0, len(e.Entity))
		for _, p := range e.Entity {
			ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = p.Type, p.Name
			res.Entity = append(res.Entity, ent)
			parts = append(parts, metadata.ClientQuotaEntityData{EntityType: p.Type, EntityName: p.Name})
		}
		var code int16
		var msg string
		if !authorized {
			code = kerr.ClusterAuthorizationFailed.Code
		} else if entChanges, problem := quotaChanges(parts, e.Ops); problem != "" {
			code, msg = kerr.InvalidRequest.Code, problem
		} else if !r.ValidateOnly {
			for range entChanges {
				owners = append(owners, i)
			}
			changes = append(changes, entChanges...)
		}
		res.ErrorCode = code
		if msg != "" {
			res.ErrorMessage = &msg
		}
		resp.Entries = append(resp.Entries, res)
	}
	if len(changes) > 0 {
		if err := h.deps.Controller.AlterClientQuotas(changes); err != nil {
			code := h.controllerCode(err)
			for _, i := range owners {
				resp.Entries[i].ErrorCode = code
			}
		} else if h.deps.MetadataChanged != nil {
			h.deps.MetadataChanged()
		}
	}
	return respond(resp)
}

// quotaChanges validates one entry and returns its records, or the problem (Kafka's message) that makes it INVALID_REQUEST.
func quotaChanges(parts []metadata.ClientQuotaEntityData, ops []kmsg.AlterClientQuotasRequestEntryOp) (recs []metadata.ClientQuotaRecord, problem string) {
	if len(parts) == 0 {
		return nil, "Invalid empty client quota entity"
	}
	e, err := metadata.QuotaEntityOf(parts)
	if err != nil {
		return nil, err.Error()
	}
	if e.IP.Set {
		if e.User.Set || e.ClientID.Set {
			return nil, fmt.Sprintf("Invalid quota entity combination, IP entity should not be combined with User or ClientId")
		}
		if !e.IP.Default && net.ParseIP(e.IP.Name) == nil {
			return nil, fmt.Sprintf("%s is not a valid IP address", e.IP.Name)
		}
	}
	seen := map[string]bool{}
	out := make([]metadata.ClientQuotaRecord, 0, len(ops))
	for _, op := range ops {
		if seen[op.Key] {
			return nil, fmt.Sprintf("Duplicate quota key %s not updating quota for this entity", op.Key)
		}
		seen[op.Key] = true
		whole, valid := quotaKeyWhole[op.Key]
		if e.IP.Set {
			whole, valid = true, op.Key == quota.ConnectionCreationRate
		}
		if !valid {
			return nil, fmt.Sprintf("Invalid configuration key %s", op.Key)
		}
		if !op.Remove {
			if math.IsNaN(op.Value) || math.IsInf(op.Value, 0) {
				return nil, fmt.Sprintf("Invalid value for configuration key %s", op.Key)
			}
			if whole && math.Abs(op.Value-math.Round(op.Value)) > 1e-6 {
				return nil, fmt.Sprintf("Configuration %s must be a Long value", op.Key)
			}
		}
		out = append(out, metadata.ClientQuotaRecord{Entity: e.Parts(), Key: op.Key, Value: op.Value, Remove: op.Remove})
	}
	return out, ""
}
