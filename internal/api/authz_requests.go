package api

// Authorization of requests decided before their handler runs: keys whose
// one check decides the whole request (group membership, cluster admin),
// and keys whose denied resources are taken out of the request and put
// back into the response with their error (configs, partitions, groups,
// offsets), so the handlers themselves stay unchanged.

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

// authorizeRequest checks req before its handler. done means out is the
// answer (the whole request was denied); a non-nil patch must be applied
// to the handler's outcome (it adds the denied resources back).
func (h *Handlers) authorizeRequest(req *Request) (out Outcome, done bool, patch func(Outcome) Outcome) {
	if !h.deps.Authorizer.Enabled() || (req.Listener == ListenerInterBroker && !req.forwardedFor) {
		return Outcome{}, false, nil
	}
	deny := func(code int16) (Outcome, bool, func(Outcome) Outcome) {
		resp := req.Body.ResponseKind()
		resp.SetVersion(req.Version)
		f := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode")
		if f.IsValid() && f.CanSet() {
			f.SetInt(int64(code))
		}
		return respond(resp), true, nil
	}
	group := func(name string) (Outcome, bool, func(Outcome) Outcome) {
		if !h.authorized(req, auth.OpRead, auth.ResourceGroup, name) {
			return deny(kerr.GroupAuthorizationFailed.Code)
		}
		return Outcome{}, false, nil
	}
	txnID := func(id string) (Outcome, bool, func(Outcome) Outcome) {
		if !h.authorized(req, auth.OpWrite, auth.ResourceTransactionalID, id) {
			return deny(kerr.TransactionalIDAuthorizationFailed.Code)
		}
		return Outcome{}, false, nil
	}
	cluster := func(op auth.Operation) (Outcome, bool, func(Outcome) Outcome) {
		if !h.authorizedCluster(req, op) {
			return deny(kerr.ClusterAuthorizationFailed.Code)
		}
		return Outcome{}, false, nil
	}
	switch r := req.Body.(type) {
	case *kmsg.JoinGroupRequest:
		return group(r.Group)
	case *kmsg.HeartbeatRequest:
		return group(r.Group)
	case *kmsg.LeaveGroupRequest:
		return group(r.Group)
	case *kmsg.SyncGroupRequest:
		return group(r.Group)
	case *kmsg.ElectLeadersRequest:
		// KafkaApis.handleElectLeaders: ALTER on the cluster, else
		// CLUSTER_AUTHORIZATION_FAILED at the top (v1+) and on every
		// partition asked for.
		if h.authorizedCluster(req, auth.OpAlter) {
			return Outcome{}, false, nil
		}
		code := kerr.ClusterAuthorizationFailed.Code
		resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
		resp.SetVersion(req.Version)
		if req.Version >= 1 {
			resp.ErrorCode = code
		}
		for _, t := range r.Topics {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewElectLeadersResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return respond(resp), true, nil
	case *kmsg.AlterPartitionAssignmentsRequest:
		return cluster(auth.OpAlter)
	case *kmsg.ListPartitionReassignmentsRequest, *kmsg.DescribeQuorumRequest:
		// DescribeCluster needs no ACL (KafkaApis.handleDescribeCluster).
		return cluster(auth.OpDescribe)
	case *kmsg.OffsetDeleteRequest:
		if !h.authorized(req, auth.OpDelete, auth.ResourceGroup, r.Group) {
			return deny(kerr.GroupAuthorizationFailed.Code)
		}
		return Outcome{}, false, h.filterOffsetDelete(req, r)
	case *kmsg.DescribeConfigsRequest:
		return Outcome{}, false, h.filterDescribeConfigs(req, r)
	case *kmsg.AlterConfigsRequest:
		return Outcome{}, false, h.filterAlterConfigs(req, r)
	case *kmsg.IncrementalAlterConfigsRequest:
		return Outcome{}, false, h.filterIncrementalAlterConfigs(req, r)
	case *kmsg.CreatePartitionsRequest:
		return Outcome{}, false, h.filterCreatePartitions(req, r)
	case *kmsg.DeleteGroupsRequest:
		return Outcome{}, false, h.filterDeleteGroups(req, r)
	case *kmsg.OffsetForLeaderEpochRequest:
		return Outcome{}, false, h.filterOffsetForLeaderEpoch(req, r)
	case *kmsg.EndTxnRequest:
		return txnID(r.TransactionalID)
	case *kmsg.AddOffsetsToTxnRequest:
		// KafkaApis.handleAddOffsetsToTxnRequest: WRITE on the
		// transactional id, READ on the group.
		if out, done, p := txnID(r.TransactionalID); done {
			return out, done, p
		}
		return group(r.Group)
	case *kmsg.TxnOffsetCommitRequest:
		// KafkaApis.handleTxnOffsetCommitRequest: WRITE on the
		// transactional id, READ on the group (every partition fails
		// with the error).
		code := int16(0)
		switch {
		case !h.authorized(req, auth.OpWrite, auth.ResourceTransactionalID, r.TransactionalID):
			code = kerr.TransactionalIDAuthorizationFailed.Code
		case !h.authorized(req, auth.OpRead, auth.ResourceGroup, r.Group):
			code = kerr.GroupAuthorizationFailed.Code
		}
		if code == 0 {
			// READ on each topic, else TOPIC_AUTHORIZATION_FAILED.
			return Outcome{}, false, h.filterTxnOffsetCommit(req, r)
		}
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return respond(resp), true, nil
	case *kmsg.AddPartitionsToTxnRequest:
		// KafkaApis.handleAddPartitionsToTxnRequest: v4+ are brokers'
		// verification requests and need CLUSTER_ACTION; v0-3 need WRITE
		// on the transactional id (else every partition fails with
		// TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and on each topic (else
		// TOPIC_AUTHORIZATION_FAILED, and the partitions allowed are
		// OPERATION_NOT_ATTEMPTED).
		if r.Version >= 4 {
			return cluster(auth.OpClusterAction)
		}
		code := int16(0)
		if !h.authorized(req, auth.OpWrite, auth.ResourceTransactionalID, r.TransactionalID) {
			code = kerr.TransactionalIDAuthorizationFailed.Code
		} else {
			for _, t := range r.Topics {
				if !h.authorized(req, auth.OpWrite, auth.ResourceTopic, t.Topic) {
					code = kerr.TopicAuthorizationFailed.Code
					break
				}
			}
		}
		if code == 0 {
			return Outcome{}, false, nil
		}
		resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		resp.SetVersion(req.Version)
		for _, t := range r.Topics {
			pcode := code
			if code == kerr.TopicAuthorizationFailed.Code && h.authorized(req, auth.OpWrite, auth.ResourceTopic, t.Topic) {
				pcode = kerr.OperationNotAttempted.Code
			}
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, pcode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return respond(resp), true, nil
	case *kmsg.DescribeProducersRequest:
		return Outcome{}, false, h.filterDescribeProducers(req, r)
	case *kmsg.DescribeTransactionsRequest:
		return Outcome{}, false, h.filterDescribeTransactions(req, r)
	case *kmsg.ListTransactionsRequest:
		return Outcome{}, false, h.filterListTransactions(req)
	case *kmsg.DescribeLogDirsRequest:
		// KafkaApis.handleDescribeLogDirsRequest: DESCRIBE on the
		// cluster, else CLUSTER_AUTHORIZATION_FAILED (v3+) and no dirs.
		return cluster(auth.OpDescribe)
	case *kmsg.UpdateFeaturesRequest:
		return cluster(auth.OpAlter)
	case *kmsg.ListConfigResourcesRequest, *kmsg.DescribeClientQuotasRequest:
		return cluster(auth.OpDescribeConfigs)
	case *kmsg.DeleteRecordsRequest:
		return Outcome{}, false, h.filterDeleteRecords(req, r)
	case *kmsg.DescribeTopicPartitionsRequest:
		return Outcome{}, false, h.filterDescribeTopicPartitions(req)
	}
	return Outcome{}, false, nil
}

// withoutDenied is the shape of every filter below: the items of a
// request the principal may not touch are taken out of it (set keeps the
// rest) and answered with deny's entry, appended to the handler's response
// by the returned patch (resp points at the response's list). nil when
// nothing was denied.
func withoutDenied[T, D any, R kmsg.Response](items []T, allowed func(T) bool, deny func(T) D, set func([]T), resp func(R) *[]D) func(Outcome) Outcome {
	var denied []D
	kept := items[:0:0]
	for _, it := range items {
		if allowed(it) {
			kept = append(kept, it)
		} else {
			denied = append(denied, deny(it))
		}
	}
	if denied == nil {
		return nil
	}
	set(kept)
	return func(out Outcome) Outcome {
		if r, ok := out.Response.(R); ok {
			list := resp(r)
			*list = append(*list, denied...)
		}
		return out
	}
}

// filterDeleteRecords takes out the topics the principal may not DELETE
// (KafkaApis.handleDeleteRecordsRequest: TOPIC_AUTHORIZATION_FAILED per
// partition).
func (h *Handlers) filterDeleteRecords(req *Request, r *kmsg.DeleteRecordsRequest) func(Outcome) Outcome {
	return withoutDenied(r.Topics,
		func(t kmsg.DeleteRecordsRequestTopic) bool {
			return h.authorized(req, auth.OpDelete, auth.ResourceTopic, t.Topic)
		},
		func(t kmsg.DeleteRecordsRequestTopic) kmsg.DeleteRecordsResponseTopic {
			d := kmsg.NewDeleteRecordsResponseTopic()
			d.Topic = t.Topic
			for _, p := range t.Partitions {
				dp := kmsg.NewDeleteRecordsResponseTopicPartition()
				dp.Partition, dp.ErrorCode, dp.LowWatermark = p.Partition, kerr.TopicAuthorizationFailed.Code, -1
				d.Partitions = append(d.Partitions, dp)
			}
			return d
		},
		func(kept []kmsg.DeleteRecordsRequestTopic) { r.Topics = kept },
		func(resp *kmsg.DeleteRecordsResponse) *[]kmsg.DeleteRecordsResponseTopic { return &resp.Topics })
}

// filterDescribeTopicPartitions hides what the principal may not DESCRIBE
// (KafkaApis.handleDescribeTopicPartitionsRequest): a topic it named gets
// TOPIC_AUTHORIZATION_FAILED with no partitions, and a listing of all
// topics leaves it out.
func (h *Handlers) filterDescribeTopicPartitions(req *Request) func(Outcome) Outcome {
	return func(out Outcome) Outcome {
		resp, ok := out.Response.(*kmsg.DescribeTopicPartitionsResponse)
		if !ok {
			return out
		}
		r := req.Body.(*kmsg.DescribeTopicPartitionsRequest)
		kept := resp.Topics[:0]
		for _, t := range resp.Topics {
			if t.Topic != nil && !h.authorized(req, auth.OpDescribe, auth.ResourceTopic, *t.Topic) {
				if len(r.Topics) == 0 {
					continue
				}
				t.ErrorCode, t.Partitions, t.TopicID = kerr.TopicAuthorizationFailed.Code, nil, [16]byte{}
			}
			kept = append(kept, t)
		}
		resp.Topics = kept
		return out
	}
}

// configAllowed checks op on a config resource: topics by name, brokers
// (and broker loggers) as the cluster. The code is Kafka's for a denial.
func (h *Handlers) configAllowed(req *Request, op auth.Operation, rt kmsg.ConfigResourceType, name string) (bool, int16) {
	switch rt {
	case kmsg.ConfigResourceTypeTopic:
		return h.authorized(req, op, auth.ResourceTopic, name), kerr.TopicAuthorizationFailed.Code
	case kmsg.ConfigResourceTypeGroupConfig:
		return h.authorized(req, op, auth.ResourceGroup, name), kerr.GroupAuthorizationFailed.Code
	}
	return h.authorizedCluster(req, op), kerr.ClusterAuthorizationFailed.Code
}

func (h *Handlers) filterDescribeConfigs(req *Request, r *kmsg.DescribeConfigsRequest) func(Outcome) Outcome {
	return withoutDenied(r.Resources,
		func(res kmsg.DescribeConfigsRequestResource) bool {
			ok, _ := h.configAllowed(req, auth.OpDescribeConfigs, res.ResourceType, res.ResourceName)
			return ok
		},
		func(res kmsg.DescribeConfigsRequestResource) kmsg.DescribeConfigsResponseResource {
			_, code := h.configAllowed(req, auth.OpDescribeConfigs, res.ResourceType, res.ResourceName)
			d := kmsg.NewDescribeConfigsResponseResource()
			d.ResourceType, d.ResourceName, d.ErrorCode = res.ResourceType, res.ResourceName, code
			return d
		},
		func(kept []kmsg.DescribeConfigsRequestResource) { r.Resources = kept },
		func(resp *kmsg.DescribeConfigsResponse) *[]kmsg.DescribeConfigsResponseResource {
			return &resp.Resources
		})
}

func (h *Handlers) filterAlterConfigs(req *Request, r *kmsg.AlterConfigsRequest) func(Outcome) Outcome {
	return withoutDenied(r.Resources,
		func(res kmsg.AlterConfigsRequestResource) bool {
			ok, _ := h.configAllowed(req, auth.OpAlterConfigs, res.ResourceType, res.ResourceName)
			return ok
		},
		func(res kmsg.AlterConfigsRequestResource) kmsg.AlterConfigsResponseResource {
			_, code := h.configAllowed(req, auth.OpAlterConfigs, res.ResourceType, res.ResourceName)
			d := kmsg.NewAlterConfigsResponseResource()
			d.ResourceType, d.ResourceName, d.ErrorCode = res.ResourceType, res.ResourceName, code
			return d
		},
		func(kept []kmsg.AlterConfigsRequestResource) { r.Resources = kept },
		func(resp *kmsg.AlterConfigsResponse) *[]kmsg.AlterConfigsResponseResource { return &resp.Resources })
}

func (h *Handlers) filterIncrementalAlterConfigs(req *Request, r *kmsg.IncrementalAlterConfigsRequest) func(Outcome) Outcome {
	return withoutDenied(r.Resources,
		func(res kmsg.IncrementalAlterConfigsRequestResource) bool {
			ok, _ := h.configAllowed(req, auth.OpAlterConfigs, res.ResourceType, res.ResourceName)
			return ok
		},
		func(res kmsg.IncrementalAlterConfigsRequestResource) kmsg.IncrementalAlterConfigsResponseResource {
			_, code := h.configAllowed(req, auth.OpAlterConfigs, res.ResourceType, res.ResourceName)
			d := kmsg.NewIncrementalAlterConfigsResponseResource()
			d.ResourceType, d.ResourceName, d.ErrorCode = res.ResourceType, res.ResourceName, code
			return d
		},
		func(kept []kmsg.IncrementalAlterConfigsRequestResource) { r.Resources = kept },
		func(resp *kmsg.IncrementalAlterConfigsResponse) *[]kmsg.IncrementalAlterConfigsResponseResource {
			return &resp.Resources
		})
}

func (h *Handlers) filterCreatePartitions(req *Request, r *kmsg.CreatePartitionsRequest) func(Outcome) Outcome {
	return withoutDenied(r.Topics,
		func(t kmsg.CreatePartitionsRequestTopic) bool {
			return h.authorized(req, auth.OpAlter, auth.ResourceTopic, t.Topic)
		},
		func(t kmsg.CreatePartitionsRequestTopic) kmsg.CreatePartitionsResponseTopic {
			d := kmsg.NewCreatePartitionsResponseTopic()
			d.Topic, d.ErrorCode = t.Topic, kerr.TopicAuthorizationFailed.Code
			return d
		},
		func(kept []kmsg.CreatePartitionsRequestTopic) { r.Topics = kept },
		func(resp *kmsg.CreatePartitionsResponse) *[]kmsg.CreatePartitionsResponseTopic { return &resp.Topics })
}

func (h *Handlers) filterDeleteGroups(req *Request, r *kmsg.DeleteGroupsRequest) func(Outcome) Outcome {
	return withoutDenied(r.Groups,
		func(g string) bool { return h.authorized(req, auth.OpDelete, auth.ResourceGroup, g) },
		func(g string) kmsg.DeleteGroupsResponseGroup {
			d := kmsg.NewDeleteGroupsResponseGroup()
			d.Group, d.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
			return d
		},
		func(kept []string) { r.Groups = kept },
		func(resp *kmsg.DeleteGroupsResponse) *[]kmsg.DeleteGroupsResponseGroup { return &resp.Groups })
}

// filterOffsetForLeaderEpoch: CLUSTER_ACTION (a follower's right) may ask
// for every topic, others for the topics they may DESCRIBE
// (KafkaApis.handleOffsetForLeaderEpochRequest).
func (h *Handlers) filterOffsetForLeaderEpoch(req *Request, r *kmsg.OffsetForLeaderEpochRequest) func(Outcome) Outcome {
	if h.authorizedCluster(req, auth.OpClusterAction) {
		return nil
	}
	return withoutDenied(r.Topics,
		func(t kmsg.OffsetForLeaderEpochRequestTopic) bool {
			return h.authorized(req, auth.OpDescribe, auth.ResourceTopic, t.Topic)
		},
		func(t kmsg.OffsetForLeaderEpochRequestTopic) kmsg.OffsetForLeaderEpochResponseTopic {
			d := kmsg.NewOffsetForLeaderEpochResponseTopic()
			d.Topic = t.Topic
			for _, p := range t.Partitions {
				dp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				dp.Partition, dp.ErrorCode, dp.LeaderEpoch, dp.EndOffset = p.Partition, kerr.TopicAuthorizationFailed.Code, -1, -1
				d.Partitions = append(d.Partitions, dp)
			}
			return d
		},
		func(kept []kmsg.OffsetForLeaderEpochRequestTopic) { r.Topics = kept },
		func(resp *kmsg.OffsetForLeaderEpochResponse) *[]kmsg.OffsetForLeaderEpochResponseTopic {
			return &resp.Topics
		})
}

func (h *Handlers) filterOffsetDelete(req *Request, r *kmsg.OffsetDeleteRequest) func(Outcome) Outcome {
	return withoutDenied(r.Topics,
		func(t kmsg.OffsetDeleteRequestTopic) bool {
			return h.authorized(req, auth.OpRead, auth.ResourceTopic, t.Topic)
		},
		func(t kmsg.OffsetDeleteRequestTopic) kmsg.OffsetDeleteResponseTopic {
			d := kmsg.NewOffsetDeleteResponseTopic()
			d.Topic = t.Topic
			for _, p := range t.Partitions {
				dp := kmsg.NewOffsetDeleteResponseTopicPartition()
				dp.Partition, dp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
				d.Partitions = append(d.Partitions, dp)
			}
			return d
		},
		func(kept []kmsg.OffsetDeleteRequestTopic) { r.Topics = kept },
		func(resp *kmsg.OffsetDeleteResponse) *[]kmsg.OffsetDeleteResponseTopic { return &resp.Topics })
}

// filterTxnOffsetCommit takes out the topics the principal may not READ
// (KafkaApis.handleTxnOffsetCommitRequest: TOPIC_AUTHORIZATION_FAILED per
// partition).
func (h *Handlers) filterTxnOffsetCommit(req *Request, r *kmsg.TxnOffsetCommitRequest) func(Outcome) Outcome {
	return withoutDenied(r.Topics,
		func(t kmsg.TxnOffsetCommitRequestTopic) bool {
			return h.authorized(req, auth.OpRead, auth.ResourceTopic, t.Topic)
		},
		func(t kmsg.TxnOffsetCommitRequestTopic) kmsg.TxnOffsetCommitResponseTopic {
			d := kmsg.NewTxnOffsetCommitResponseTopic()
			d.Topic = t.Topic
			for _, p := range t.Partitions {
				dp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				dp.Partition, dp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
				d.Partitions = append(d.Partitions, dp)
			}
			return d
		},
		func(kept []kmsg.TxnOffsetCommitRequestTopic) { r.Topics = kept },
		func(resp *kmsg.TxnOffsetCommitResponse) *[]kmsg.TxnOffsetCommitResponseTopic { return &resp.Topics })
}

// filterDescribeProducers takes out the topics the principal may not READ
// (KafkaApis.handleDescribeProducersRequest: TOPIC_AUTHORIZATION_FAILED
// per partition).
func (h *Handlers) filterDescribeProducers(req *Request, r *kmsg.DescribeProducersRequest) func(Outcome) Outcome {
	return withoutDenied(r.Topics,
		func(t kmsg.DescribeProducersRequestTopic) bool {
			return h.authorized(req, auth.OpRead, auth.ResourceTopic, t.Topic)
		},
		func(t kmsg.DescribeProducersRequestTopic) kmsg.DescribeProducersResponseTopic {
			d := kmsg.NewDescribeProducersResponseTopic()
			d.Topic = t.Topic
			for _, p := range t.Partitions {
				dp := kmsg.NewDescribeProducersResponseTopicPartition()
				dp.Partition, dp.ErrorCode = p, kerr.TopicAuthorizationFailed.Code
				d.Partitions = append(d.Partitions, dp)
			}
			return d
		},
		func(kept []kmsg.DescribeProducersRequestTopic) { r.Topics = kept },
		func(resp *kmsg.DescribeProducersResponse) *[]kmsg.DescribeProducersResponseTopic { return &resp.Topics })
}

// filterDescribeTransactions answers the transactional ids the principal
// may not DESCRIBE with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, and leaves
// out of the others the topics it may not DESCRIBE
// (KafkaApis.handleDescribeTransactionsRequest).
func (h *Handlers) filterDescribeTransactions(req *Request, r *kmsg.DescribeTransactionsRequest) func(Outcome) Outcome {
	denied := withoutDenied(r.TransactionalIDs,
		func(id string) bool { return h.authorized(req, auth.OpDescribe, auth.ResourceTransactionalID, id) },
		func(id string) kmsg.DescribeTransactionsResponseTransactionState {
			d := kmsg.NewDescribeTransactionsResponseTransactionState()
			d.TransactionalID, d.ErrorCode = id, kerr.TransactionalIDAuthorizationFailed.Code
			d.ProducerID, d.ProducerEpoch, d.StartTimestamp = -1, -1, -1
			return d
		},
		func(kept []string) { r.TransactionalIDs = kept },
		func(resp *kmsg.DescribeTransactionsResponse) *[]kmsg.DescribeTransactionsResponseTransactionState {
			return &resp.TransactionStates
		})
	return func(out Outcome) Outcome {
		if resp, ok := out.Response.(*kmsg.DescribeTransactionsResponse); ok {
			for i := range resp.TransactionStates {
				st := &resp.TransactionStates[i]
				kept := st.Topics[:0]
				for _, t := range st.Topics {
					if h.authorized(req, auth.OpDescribe, auth.ResourceTopic, t.Topic) {
						kept = append(kept, t)
					}
				}
				st.Topics = kept
			}
		}
		if denied != nil {
			out = denied(out)
		}
		return out
	}
}

// filterListTransactions leaves out the transactional ids the principal
// may not DESCRIBE (KafkaApis.handleListTransactionsRequest).
func (h *Handlers) filterListTransactions(req *Request) func(Outcome) Outcome {
	return func(out Outcome) Outcome {
		if resp, ok := out.Response.(*kmsg.ListTransactionsResponse); ok {
			kept := resp.TransactionStates[:0]
			for _, st := range resp.TransactionStates {
				if h.authorized(req, auth.OpDescribe, auth.ResourceTransactionalID, st.TransactionalID) {
					kept = append(kept, st)
				}
			}
			resp.TransactionStates = kept
		}
		return out
	}
}
