package api

// AlterUserScramCredentials (key 51), version 0 (flexible).
//
// Needs ALTER on the cluster. Runs on the active controller (forwarded).
// The client sends the salted password (RFC 5802 Hi()), never the
// password; the controller stores StoredKey and ServerKey derived from it,
// as UserScramCredential records. One result per user named in the
// request; all of a user's changes apply or none (Kafka's checks:
// an empty name or too few/many iterations UNACCEPTABLE_CREDENTIAL, an
// unknown mechanism UNSUPPORTED_SASL_MECHANISM, a user+mechanism changed
// twice DUPLICATE_RESOURCE, deleting a missing credential
// RESOURCE_NOT_FOUND).

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/metadata"
)

func (h *Handlers) alterUserScramCredentials(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type userResult struct {
		code    int16
		msg     string
		upserts []metadata.UserScramCredentialRecord
		deletes []metadata.ScramKey
	}
	var order []string
	results := map[string]*userResult{}
	seen := map[metadata.ScramKey]bool{}
	get := func(name string) *userResult {
		u, ok := results[name]
		if !ok {
			u = &userResult{}
			results[name] = u
			order = append(order, name)
		}
		return u
	}
	authorized := h.authorizedCluster(req, auth.OpAlter)
	check := func(u *userResult, name string, mech int8) bool {
		k := metadata.ScramKey{User: name, Mechanism: mech}
		switch {
		case u.code != 0:
		case !authorized:
			u.code = kerr.ClusterAuthorizationFailed.Code
		case name == "":
			u.code, u.msg = kerr.UnacceptableCredential.Code, "Username must not be empty"
		case !auth.ScramMechanism(mech).Valid():
			u.code, u.msg = kerr.UnsupportedSaslMechanism.Code, fmt.Sprintf("Unknown SCRAM mechanism %d", mech)
		case seen[k]:
			u.code, u.msg = kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request"
		}
		seen[k] = true
		return u.code == 0
	}
	for _, d := range r.Deletions {
		u := get(d.Name)
		if check(u, d.Name, d.Mechanism) {
			u.deletes = append(u.deletes, metadata.ScramKey{User: d.Name, Mechanism: d.Mechanism})
		}
	}
	for _, up := range r.Upsertions {
		u := get(up.Name)
		if !check(u, up.Name, up.Mechanism) {
			continue
		}
		m := auth.ScramMechanism(up.Mechanism)
		switch {
		case up.Iterations < auth.ScramMinIterations:
			u.code, u.msg = kerr.UnacceptableCredential.Code, fmt.Sprintf("Too few iterations (minimum %d)", auth.ScramMinIterations)
		case up.Iterations > auth.ScramMaxIterations:
			u.code, u.msg = kerr.UnacceptableCredential.Code, fmt.Sprintf("Too many iterations (maximum %d)", auth.ScramMaxIterations)
		case len(up.Salt) == 0 || len(up.SaltedPassword) == 0:
			u.code, u.msg = kerr.UnacceptableCredential.Code, "Salt and salted password must not be empty"
		default:
			c := auth.NewScramCredential(m, up.SaltedPassword, up.Salt, up.Iterations)
			u.upserts = append(u.upserts, metadata.UserScramCredentialRecord{Name: up.Name, Mechanism: up.Mechanism,
				Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations})
		}
	}
	var upserts []metadata.UserScramCredentialRecord
	var deletes []metadata.ScramKey
	var owners []string // user of each upsert, then of each deletion
	for _, name := range order {
		if u := results[name]; u.code == 0 {
			upserts = append(upserts, u.upserts...)
			for range u.upserts {
				owners = append(owners, name)
			}
		}
	}
	for _, name := range order {
		if u := results[name]; u.code == 0 {
			deletes = append(deletes, u.deletes...)
			for range u.deletes {
				owners = append(owners, name)
			}
		}
	}
	if len(owners) > 0 {
		errs, err := h.deps.Controller.AlterScramCredentials(upserts, deletes)
		for i, name := range owners {
			u := results[name]
			switch {
			case u.code != 0:
			case err != nil:
				u.code = h.controllerCode(err)
			case errors.Is(errs[i], controller.ErrResourceNotFound):
				u.code, u.msg = kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist"
			case errs[i] != nil:
				u.code = h.controllerCode(errs[i])
			}
		}
	}
	for _, name := range order {
		u := results[name]
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User, res.ErrorCode = name, u.code
		if u.msg != "" {
			msg := u.msg
			res.ErrorMessage = &msg
		}
		resp.Results = append(resp.Results, res)
	}
	return respond(resp)
}
