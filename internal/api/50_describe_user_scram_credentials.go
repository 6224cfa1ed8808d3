package api

// DescribeUserScramCredentials (key 50), version 0 (flexible).
//
// Needs DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED for the
// whole request). No users (null or empty) describes every user with a
// credential; a user asked for twice gets DUPLICATE_RESOURCE, one without
// credentials RESOURCE_NOT_FOUND, as Kafka's ControllerApis does.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

func (h *Handlers) describeUserScramCredentials(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !h.authorizedCluster(req, auth.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return respond(resp)
	}
	im := h.deps.Metadata.Image()
	infos := map[string][]kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{}
	for k, c := range im.ScramCredentials {
		info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
		info.Mechanism, info.Iterations = k.Mechanism, c.Iterations
		infos[k.User] = append(infos[k.User], info)
	}
	for _, list := range infos {
		sort.Slice(list, func(i, j int) bool { return list[i].Mechanism < list[j].Mechanism })
	}
	var users []string
	if len(r.Users) == 0 {
		for u := range infos {
			users = append(users, u)
		}
		sort.Strings(users)
	} else {
		for _, u := range r.Users {
			users = append(users, u.Name)
		}
	}
	count := map[string]int{}
	for _, u := range users {
		count[u]++
	}
	for _, u := range users {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = u
		switch {
		case count[u] > 1:
			res.ErrorCode = kerr.DuplicateResource.Code
			msg := "Cannot describe SCRAM credentials for the same user twice in a single request: " + u
			res.ErrorMessage = &msg
		case len(infos[u]) == 0:
			res.ErrorCode = kerr.ResourceNotFound.Code
			msg := "Attempt to describe nonexistent user: " + u
			res.ErrorMessage = &msg
		default:
			res.CredentialInfos = infos[u]
		}
		resp.Results = append(resp.Results, res)
	}
	return respond(resp)
}
