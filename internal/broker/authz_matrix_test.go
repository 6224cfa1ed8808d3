package broker_test

// The authorization matrix (issue 8): for every API key arus serves, the
// operation and resource Kafka's KafkaApis / ControllerApis check for it,
// a principal without the ACL getting Kafka's answer, and one with it
// getting past authorization. docs/authorization.md is generated from
// the table (go test ./internal/broker -run TestAuthorizationMatrixDoc
// -update-authz-doc).

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

var updateAuthzDoc = flag.Bool("update-authz-doc", false, "rewrite docs/authorization.md from the authorization matrix")

// Names of the matrix's resources.
const (
	mxTopic  = "mx"      // one partition, written to by admin
	mxGroup  = "mg"      // has committed offsets (ListGroups lists it)
	mxTxn    = "mtx"     // an initialized transactional id (ListTransactions lists it)
	mxDelete = "mx-del-" // + row index: topics for DeleteTopics to delete
)

// aclSpec is one ACL of a row's principal.
type aclSpec struct {
	rt      kmsg.ACLResourceType
	name    string
	pattern kmsg.ACLResourcePatternType
	op      kmsg.ACLOperation
	perm    kmsg.ACLPermissionType
	host    string
}

func allowACL(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) aclSpec {
	return aclSpec{rt, name, kmsg.ACLResourcePatternTypeLiteral, op, kmsg.ACLPermissionTypeAllow, "*"}
}

func denyACL(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) aclSpec {
	return aclSpec{rt, name, kmsg.ACLResourcePatternTypeLiteral, op, kmsg.ACLPermissionTypeDeny, "*"}
}

var (
	topicACL   = func(op kmsg.ACLOperation) aclSpec { return allowACL(kmsg.ACLResourceTypeTopic, mxTopic, op) }
	groupACL   = func(op kmsg.ACLOperation) aclSpec { return allowACL(kmsg.ACLResourceTypeGroup, mxGroup, op) }
	txnACL     = func(op kmsg.ACLOperation) aclSpec { return allowACL(kmsg.ACLResourceTypeTransactionalId, mxTxn, op) }
	clusterACL = func(op kmsg.ACLOperation) aclSpec {
		return allowACL(kmsg.ACLResourceTypeCluster, "kafka-cluster", op)
	}
)

// authzRow is one row of the matrix: the request, the ACLs the allowed
// principal holds (allow) and those the denied one holds (deny: usually
// none, or the checks that come before the one the row is about).
type authzRow struct {
	key       int16
	what      string // the operation and resource, for the docs
	denied    string // Kafka's answer without it, for the docs
	code      int16  // the error code expected without it; 0 for the rows below
	hidden    func(kmsg.Response) bool
	allow     []aclSpec
	deny      []aclSpec
	allowUser string // the allowed principal, when not the row's own (super users)
	maxKey    int16  // with maxVersion: pin the key's version
	maxVer    int16
	build     func(f *matrixFixture, row int) kmsg.Request
	docs      bool // listed in docs/authorization.md
	closed    bool // not served on a client listener: the connection is closed
}

type matrixFixture struct {
	topicID [16]byte
}

func str(s string) *string { return &s }

func produceReq(f *matrixFixture, txn *string) kmsg.Request {
	r := kmsg.NewPtrProduceRequest()
	r.Acks, r.TimeoutMillis, r.TransactionID = 1, 5000, txn
	t := kmsg.NewProduceRequestTopic()
	t.Topic, t.TopicID = mxTopic, f.topicID
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = 0
	if txn != nil {
		p.Records = encodeBatch(1, 0, 0, time.Now(), "x")
		p.Records[21+1] |= 0x10 // attributes: transactional
		setBatchCRC(p.Records)
	} else {
		p.Records = encodeBatch(-1, -1, -1, time.Now(), "x")
	}
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

func groupsOf(resp kmsg.Response) []string {
	var out []string
	for _, g := range resp.(*kmsg.ListGroupsResponse).Groups {
		out = append(out, g.Group)
	}
	return out
}

func authzRows() []authzRow {
	const (
		topicDenied   = "TOPIC_AUTHORIZATION_FAILED"
		groupDenied   = "GROUP_AUTHORIZATION_FAILED"
		clusterDenied = "CLUSTER_AUTHORIZATION_FAILED"
		txnDenied     = "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
	)
	tf, gf, cf, xf := kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code,
		kerr.ClusterAuthorizationFailed.Code, kerr.TransactionalIDAuthorizationFailed.Code
	row := func(key int16, what, denied string, code int16, allow []aclSpec, build func(*matrixFixture, int) kmsg.Request) authzRow {
		return authzRow{key: key, what: what, denied: denied, code: code, allow: allow, build: build, docs: true}
	}
	topicHidden := func(resp kmsg.Response) bool {
		switch r := resp.(type) {
		case *kmsg.MetadataResponse:
			for _, t := range r.Topics {
				if t.Topic != nil && *t.Topic == mxTopic {
					return false
				}
			}
		case *kmsg.DescribeTopicPartitionsResponse:
			for _, t := range r.Topics {
				if t.Topic != nil && *t.Topic == mxTopic {
					return false
				}
			}
		}
		return true
	}
	metadata := func(topics ...string) func(*matrixFixture, int) kmsg.Request {
		return func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			if topics != nil {
				r.Topics = []kmsg.MetadataRequestTopic{}
			}
			for _, t := range topics {
				mt := kmsg.NewMetadataRequestTopic()
				mt.Topic = str(t)
				r.Topics = append(r.Topics, mt)
			}
			return r
		}
	}
	offsetCommit := func(f *matrixFixture, _ int) kmsg.Request {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group, r.Generation = mxGroup, -1
		t := kmsg.NewOffsetCommitRequestTopic()
		t.Topic, t.TopicID = mxTopic, f.topicID
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset = 0, 0
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		return r
	}
	offsetFetch := func(f *matrixFixture, _ int) kmsg.Request {
		r := kmsg.NewPtrOffsetFetchRequest()
		r.Group = mxGroup
		r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: mxTopic, Partitions: []int32{0}}}
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = mxGroup
		g.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: mxTopic, TopicID: f.topicID, Partitions: []int32{0}}}
		r.Groups = append(r.Groups, g)
		return r
	}
	findCoordinator := func(typ int8, key string) func(*matrixFixture, int) kmsg.Request {
		return func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrFindCoordinatorRequest()
			r.CoordinatorType, r.CoordinatorKey, r.CoordinatorKeys = typ, key, []string{key}
			return r
		}
	}
	txnOffsetCommit := func(*matrixFixture, int) kmsg.Request {
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = mxTxn, mxGroup, 1, 0, -1
		t := kmsg.NewTxnOffsetCommitRequestTopic()
		t.Topic = mxTopic
		p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		return r
	}
	addPartitionsToTxn := func(*matrixFixture, int) kmsg.Request {
		r := kmsg.NewPtrAddPartitionsToTxnRequest()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch = mxTxn, 1, 0
		r.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: mxTopic, Partitions: []int32{0}}}
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = mxTxn, 1, 0, true
		tx.Topics = []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: mxTopic, Partitions: []int32{0}}}
		r.Transactions = append(r.Transactions, tx)
		return r
	}
	configRes := func(rt kmsg.ConfigResourceType, name string) func(*matrixFixture, int) kmsg.Request {
		return func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrDescribeConfigsRequest()
			res := kmsg.NewDescribeConfigsRequestResource()
			res.ResourceType, res.ResourceName = rt, name
			r.Resources = append(r.Resources, res)
			return r
		}
	}
	alterConfig := func(rt kmsg.ConfigResourceType, name string) func(*matrixFixture, int) kmsg.Request {
		return func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrAlterConfigsRequest()
			r.ValidateOnly = true
			res := kmsg.NewAlterConfigsRequestResource()
			res.ResourceType, res.ResourceName = rt, name
			r.Resources = append(r.Resources, res)
			return r
		}
	}
	incAlterConfig := func(rt kmsg.ConfigResourceType, name string) func(*matrixFixture, int) kmsg.Request {
		return func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrIncrementalAlterConfigsRequest()
			r.ValidateOnly = true
			res := kmsg.NewIncrementalAlterConfigsRequestResource()
			res.ResourceType, res.ResourceName = rt, name
			r.Resources = append(r.Resources, res)
			return r
		}
	}
	simple := func(newReq func() kmsg.Request) func(*matrixFixture, int) kmsg.Request {
		return func(*matrixFixture, int) kmsg.Request { return newReq() }
	}
	acls := func(specs ...aclSpec) []aclSpec { return specs }

	rows := []authzRow{
		row(0, "WRITE on TOPIC", topicDenied+" per partition", tf, acls(topicACL(kmsg.ACLOperationWrite)),
			func(f *matrixFixture, _ int) kmsg.Request { return produceReq(f, nil) }),
		row(0, "transactional: WRITE on TRANSACTIONAL_ID", txnDenied+" per partition", xf,
			acls(txnACL(kmsg.ACLOperationWrite), topicACL(kmsg.ACLOperationWrite)),
			func(f *matrixFixture, _ int) kmsg.Request { return produceReq(f, str(mxTxn)) }),
		row(1, "READ on TOPIC", topicDenied+" per partition", tf, acls(topicACL(kmsg.ACLOperationRead)),
			func(f *matrixFixture, _ int) kmsg.Request {
				r := kmsg.NewPtrFetchRequest()
				r.ReplicaID, r.MaxBytes = -1, 1<<20
				t := kmsg.NewFetchRequestTopic()
				t.Topic, t.TopicID = mxTopic, f.topicID
				p := kmsg.NewFetchRequestTopicPartition()
				p.PartitionMaxBytes = 1 << 20
				t.Partitions = append(t.Partitions, p)
				r.Topics = append(r.Topics, t)
				return r
			}),
		row(2, "DESCRIBE on TOPIC", topicDenied+" per partition", tf, acls(topicACL(kmsg.ACLOperationDescribe)),
			func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrListOffsetsRequest()
				t := kmsg.NewListOffsetsRequestTopic()
				t.Topic = mxTopic
				p := kmsg.NewListOffsetsRequestTopicPartition()
				p.Timestamp = -1
				t.Partitions = append(t.Partitions, p)
				r.Topics = append(r.Topics, t)
				return r
			}),
		row(3, "DESCRIBE on TOPIC (topics named)", topicDenied+" for the topic", tf, acls(topicACL(kmsg.ACLOperationDescribe)), metadata(mxTopic)),
		{key: 3, what: "DESCRIBE on TOPIC (all topics)", denied: "topic left out", hidden: topicHidden, docs: true,
			allow: acls(topicACL(kmsg.ACLOperationDescribe)), build: metadata()},
		{key: 3, what: "auto-creation: CREATE on CLUSTER or TOPIC", denied: topicDenied + " for the topic", code: tf, docs: true,
			allow: acls(aclSpec{kmsg.ACLResourceTypeTopic, "mx-auto-", kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow, "*"}),
			deny:  acls(aclSpec{kmsg.ACLResourceTypeTopic, "mx-auto-", kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow, "*"}),
			build: func(_ *matrixFixture, i int) kmsg.Request {
				r := metadata(fmt.Sprintf("mx-auto-%d", i))(nil, i).(*kmsg.MetadataRequest)
				r.AllowAutoTopicCreation = true
				return r
			}},
		row(8, "READ on GROUP", groupDenied+" per partition", gf, acls(groupACL(kmsg.ACLOperationRead), topicACL(kmsg.ACLOperationRead)), offsetCommit),
		{key: 8, what: "READ on TOPIC", denied: topicDenied + " per partition", code: tf, docs: true,
			allow: acls(groupACL(kmsg.ACLOperationRead), topicACL(kmsg.ACLOperationRead)),
			deny:  acls(groupACL(kmsg.ACLOperationRead)), build: offsetCommit},
		row(9, "DESCRIBE on GROUP", groupDenied, gf, acls(groupACL(kmsg.ACLOperationDescribe), topicACL(kmsg.ACLOperationDescribe)), offsetFetch),
		{key: 9, what: "DESCRIBE on TOPIC", denied: topicDenied + " per partition named; left out of all-topics fetches", code: tf, docs: true,
			allow: acls(groupACL(kmsg.ACLOperationDescribe), topicACL(kmsg.ACLOperationDescribe)),
			deny:  acls(groupACL(kmsg.ACLOperationDescribe)), build: offsetFetch},
		row(10, "group: DESCRIBE on GROUP", groupDenied, gf, acls(groupACL(kmsg.ACLOperationDescribe)), findCoordinator(0, mxGroup)),
		row(10, "transaction: DESCRIBE on TRANSACTIONAL_ID", txnDenied, xf, acls(txnACL(kmsg.ACLOperationDescribe)), findCoordinator(1, mxTxn)),
		row(11, "READ on GROUP", groupDenied, gf, acls(groupACL(kmsg.ACLOperationRead)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrJoinGroupRequest()
			r.Group, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis, r.ProtocolType = mxGroup, 10000, 10000, "consumer"
			r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
			return r
		}),
		row(12, "READ on GROUP", groupDenied, gf, acls(groupACL(kmsg.ACLOperationRead)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrHeartbeatRequest()
			r.Group, r.MemberID = mxGroup, "nobody"
			return r
		}),
		row(13, "READ on GROUP", groupDenied, gf, acls(groupACL(kmsg.ACLOperationRead)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrLeaveGroupRequest()
			r.Group, r.MemberID = mxGroup, "nobody"
			r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "nobody"}}
			return r
		}),
		row(14, "READ on GROUP", groupDenied, gf, acls(groupACL(kmsg.ACLOperationRead)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrSyncGroupRequest()
			r.Group, r.MemberID = mxGroup, "nobody"
			return r
		}),
		row(15, "DESCRIBE on GROUP", groupDenied+" for the group", gf, acls(groupACL(kmsg.ACLOperationDescribe)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrDescribeGroupsRequest()
			r.Groups = []string{mxGroup}
			return r
		}),
		{key: 16, what: "DESCRIBE on CLUSTER, else DESCRIBE on each GROUP", denied: "group left out", docs: true,
			hidden: func(resp kmsg.Response) bool { return !strings.Contains(strings.Join(groupsOf(resp), ","), mxGroup) },
			allow:  acls(groupACL(kmsg.ACLOperationDescribe)), build: simple(func() kmsg.Request { return kmsg.NewPtrListGroupsRequest() })},
		{key: 16, what: "DESCRIBE on CLUSTER", denied: "group left out",
			hidden: func(resp kmsg.Response) bool { return !strings.Contains(strings.Join(groupsOf(resp), ","), mxGroup) },
			allow:  acls(clusterACL(kmsg.ACLOperationDescribe)), build: simple(func() kmsg.Request { return kmsg.NewPtrListGroupsRequest() })},
		{key: 18, what: "none", denied: "-", docs: true, build: simple(func() kmsg.Request { return kmsg.NewPtrApiVersionsRequest() })},
		row(19, "CREATE on CLUSTER or on TOPIC", topicDenied+" for the topic", tf,
			acls(allowACL(kmsg.ACLResourceTypeTopic, "mx-new", kmsg.ACLOperationCreate), allowACL(kmsg.ACLResourceTypeTopic, "mx-new", kmsg.ACLOperationDescribeConfigs)),
			func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrCreateTopicsRequest()
				r.ValidateOnly, r.TimeoutMillis = true, 5000
				t := kmsg.NewCreateTopicsRequestTopic()
				t.Topic, t.NumPartitions, t.ReplicationFactor = "mx-new", 1, 1
				r.Topics = append(r.Topics, t)
				return r
			}),
		{key: 19, what: "configs returned: DESCRIBE_CONFIGS on TOPIC", denied: topicDenied + " as the topic's config error", code: tf, docs: true,
			allow: acls(clusterACL(kmsg.ACLOperationCreate), allowACL(kmsg.ACLResourceTypeTopic, "mx-new", kmsg.ACLOperationDescribeConfigs)),
			deny:  acls(clusterACL(kmsg.ACLOperationCreate)),
			build: func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrCreateTopicsRequest()
				r.ValidateOnly, r.TimeoutMillis = true, 5000
				t := kmsg.NewCreateTopicsRequestTopic()
				t.Topic, t.NumPartitions, t.ReplicationFactor = "mx-new", 1, 1
				r.Topics = append(r.Topics, t)
				return r
			}},
		row(20, "DELETE on CLUSTER or on TOPIC", topicDenied+" for the topic", tf,
			acls(allowACL(kmsg.ACLResourceTypeTopic, mxDelete, kmsg.ACLOperationDelete)), nil),
		row(21, "DELETE on TOPIC", topicDenied+" per partition", tf, acls(topicACL(kmsg.ACLOperationDelete)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrDeleteRecordsRequest()
			r.TimeoutMillis = 5000
			r.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: mxTopic, Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 0}}}}
			return r
		}),
		row(22, "transactional: WRITE on TRANSACTIONAL_ID", txnDenied, xf, acls(txnACL(kmsg.ACLOperationWrite)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrInitProducerIDRequest()
			r.TransactionalID, r.TransactionTimeoutMillis = str(mxTxn), 60000
			return r
		}),
		row(22, "idempotent: IDEMPOTENT_WRITE on CLUSTER, or WRITE on any TOPIC", clusterDenied, cf, acls(topicACL(kmsg.ACLOperationWrite)),
			simple(func() kmsg.Request { return kmsg.NewPtrInitProducerIDRequest() })),
		{key: 22, what: "idempotent: IDEMPOTENT_WRITE on CLUSTER", denied: clusterDenied, code: cf,
			allow: acls(clusterACL(kmsg.ACLOperationIdempotentWrite)), build: simple(func() kmsg.Request { return kmsg.NewPtrInitProducerIDRequest() })},
		row(23, "DESCRIBE on TOPIC (CLUSTER_ACTION: every topic)", topicDenied+" per partition", tf, acls(topicACL(kmsg.ACLOperationDescribe)),
			func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrOffsetForLeaderEpochRequest()
				r.ReplicaID = -1
				t := kmsg.NewOffsetForLeaderEpochRequestTopic()
				t.Topic = mxTopic
				p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
				p.CurrentLeaderEpoch, p.LeaderEpoch = -1, 0
				t.Partitions = append(t.Partitions, p)
				r.Topics = append(r.Topics, t)
				return r
			}),
		{key: 24, what: "v0-3: WRITE on TRANSACTIONAL_ID", denied: txnDenied + " per partition", code: xf, docs: true, maxKey: 24, maxVer: 3,
			allow: acls(txnACL(kmsg.ACLOperationWrite), topicACL(kmsg.ACLOperationWrite)), deny: acls(topicACL(kmsg.ACLOperationWrite)),
			build: addPartitionsToTxn},
		{key: 24, what: "v0-3: WRITE on TOPIC", denied: topicDenied + " (others OPERATION_NOT_ATTEMPTED)", code: tf, docs: true, maxKey: 24, maxVer: 3,
			allow: acls(txnACL(kmsg.ACLOperationWrite), topicACL(kmsg.ACLOperationWrite)), deny: acls(txnACL(kmsg.ACLOperationWrite)),
			build: addPartitionsToTxn},
		row(24, "v4+ (brokers' verification): CLUSTER_ACTION on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationClusterAction)), addPartitionsToTxn),
		row(25, "WRITE on TRANSACTIONAL_ID", txnDenied, xf, acls(txnACL(kmsg.ACLOperationWrite), groupACL(kmsg.ACLOperationRead)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrAddOffsetsToTxnRequest()
			r.TransactionalID, r.ProducerID, r.Group = mxTxn, 1, mxGroup
			return r
		}),
		{key: 25, what: "READ on GROUP", denied: groupDenied, code: gf, docs: true,
			allow: acls(txnACL(kmsg.ACLOperationWrite), groupACL(kmsg.ACLOperationRead)), deny: acls(txnACL(kmsg.ACLOperationWrite)),
			build: func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrAddOffsetsToTxnRequest()
				r.TransactionalID, r.ProducerID, r.Group = mxTxn, 1, mxGroup
				return r
			}},
		row(26, "WRITE on TRANSACTIONAL_ID", txnDenied, xf, acls(txnACL(kmsg.ACLOperationWrite)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrEndTxnRequest()
			r.TransactionalID, r.ProducerID = mxTxn, 1
			return r
		}),
		row(28, "WRITE on TRANSACTIONAL_ID", txnDenied+" per partition", xf,
			acls(txnACL(kmsg.ACLOperationWrite), groupACL(kmsg.ACLOperationRead), topicACL(kmsg.ACLOperationRead)), txnOffsetCommit),
		{key: 28, what: "READ on GROUP", denied: groupDenied + " per partition", code: gf, docs: true,
			allow: acls(txnACL(kmsg.ACLOperationWrite), groupACL(kmsg.ACLOperationRead), topicACL(kmsg.ACLOperationRead)),
			deny:  acls(txnACL(kmsg.ACLOperationWrite)), build: txnOffsetCommit},
		{key: 28, what: "READ on TOPIC", denied: topicDenied + " per partition", code: tf, docs: true,
			allow: acls(txnACL(kmsg.ACLOperationWrite), groupACL(kmsg.ACLOperationRead), topicACL(kmsg.ACLOperationRead)),
			deny:  acls(txnACL(kmsg.ACLOperationWrite), groupACL(kmsg.ACLOperationRead)), build: txnOffsetCommit},
		row(29, "DESCRIBE on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationDescribe)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrDescribeACLsRequest()
			r.ResourceType, r.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return r
		}),
		row(30, "ALTER on CLUSTER", clusterDenied+" per creation", cf, acls(clusterACL(kmsg.ACLOperationAlter)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrCreateACLsRequest()
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "mx-nothing", kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host, c.Operation, c.PermissionType = "User:nobody", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			r.Creations = append(r.Creations, c)
			return r
		}),
		row(31, "ALTER on CLUSTER", clusterDenied+" per filter", cf, acls(clusterACL(kmsg.ACLOperationAlter)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrDeleteACLsRequest()
			fl := kmsg.NewDeleteACLsRequestFilter()
			fl.ResourceType, fl.ResourceName, fl.ResourcePatternType = kmsg.ACLResourceTypeTopic, str("mx-nothing-at-all"), kmsg.ACLResourcePatternTypeLiteral
			fl.Principal, fl.Operation, fl.PermissionType = str("User:nobody"), kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			r.Filters = append(r.Filters, fl)
			return r
		}),
		row(32, "topic: DESCRIBE_CONFIGS on TOPIC", topicDenied+" for the resource", tf, acls(topicACL(kmsg.ACLOperationDescribeConfigs)),
			configRes(kmsg.ConfigResourceTypeTopic, mxTopic)),
		row(32, "broker: DESCRIBE_CONFIGS on CLUSTER", clusterDenied+" for the resource", cf, acls(clusterACL(kmsg.ACLOperationDescribeConfigs)),
			configRes(kmsg.ConfigResourceTypeBroker, "")),
		row(33, "topic: ALTER_CONFIGS on TOPIC", topicDenied+" for the resource", tf, acls(topicACL(kmsg.ACLOperationAlterConfigs)),
			alterConfig(kmsg.ConfigResourceTypeTopic, mxTopic)),
		row(33, "broker: ALTER_CONFIGS on CLUSTER", clusterDenied+" for the resource", cf, acls(clusterACL(kmsg.ACLOperationAlterConfigs)),
			alterConfig(kmsg.ConfigResourceTypeBroker, "")),
		row(35, "DESCRIBE on CLUSTER", clusterDenied+" (v3+), no log dirs", cf, acls(clusterACL(kmsg.ACLOperationDescribe)),
			simple(func() kmsg.Request { return kmsg.NewPtrDescribeLogDirsRequest() })),
		row(37, "ALTER on TOPIC", topicDenied+" for the topic", tf, acls(topicACL(kmsg.ACLOperationAlter)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrCreatePartitionsRequest()
			r.ValidateOnly, r.TimeoutMillis = true, 5000
			t := kmsg.NewCreatePartitionsRequestTopic()
			t.Topic, t.Count = mxTopic, 2
			r.Topics = append(r.Topics, t)
			return r
		}),
		row(42, "DELETE on GROUP", groupDenied+" for the group", gf, acls(allowACL(kmsg.ACLResourceTypeGroup, "mx-nogroup", kmsg.ACLOperationDelete)),
			func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrDeleteGroupsRequest()
				r.Groups = []string{"mx-nogroup"}
				return r
			}),
		row(43, "ALTER on CLUSTER", clusterDenied+" (top level v1+, and per partition)", cf, acls(clusterACL(kmsg.ACLOperationAlter)),
			func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrElectLeadersRequest()
				r.TimeoutMillis = 5000
				r.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: mxTopic, Partitions: []int32{0}}}
				return r
			}),
		row(44, "topic: ALTER_CONFIGS on TOPIC", topicDenied+" for the resource", tf, acls(topicACL(kmsg.ACLOperationAlterConfigs)),
			incAlterConfig(kmsg.ConfigResourceTypeTopic, mxTopic)),
		row(44, "broker: ALTER_CONFIGS on CLUSTER", clusterDenied+" for the resource", cf, acls(clusterACL(kmsg.ACLOperationAlterConfigs)),
			incAlterConfig(kmsg.ConfigResourceTypeBroker, "")),
		row(44, "group: ALTER_CONFIGS on GROUP", groupDenied+" for the resource", gf, acls(groupACL(kmsg.ACLOperationAlterConfigs)),
			incAlterConfig(kmsg.ConfigResourceTypeGroupConfig, mxGroup)),
		row(45, "ALTER on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationAlter)),
			simple(func() kmsg.Request { return kmsg.NewPtrAlterPartitionAssignmentsRequest() })),
		row(46, "DESCRIBE on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationDescribe)),
			simple(func() kmsg.Request { return kmsg.NewPtrListPartitionReassignmentsRequest() })),
		row(47, "DELETE on GROUP", groupDenied, gf, acls(allowACL(kmsg.ACLResourceTypeGroup, "mx-nogroup", kmsg.ACLOperationDelete), topicACL(kmsg.ACLOperationRead)),
			func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrOffsetDeleteRequest()
				r.Group = "mx-nogroup"
				r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: mxTopic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
				return r
			}),
		{key: 47, what: "READ on TOPIC", denied: topicDenied + " per partition", code: tf, docs: true,
			allow: acls(allowACL(kmsg.ACLResourceTypeGroup, "mx-nogroup", kmsg.ACLOperationDelete), topicACL(kmsg.ACLOperationRead)),
			deny:  acls(allowACL(kmsg.ACLResourceTypeGroup, "mx-nogroup", kmsg.ACLOperationDelete)),
			build: func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrOffsetDeleteRequest()
				r.Group = "mx-nogroup"
				r.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: mxTopic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
				return r
			}},
		row(48, "DESCRIBE_CONFIGS on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationDescribeConfigs)),
			simple(func() kmsg.Request { return kmsg.NewPtrDescribeClientQuotasRequest() })),
		row(49, "ALTER_CONFIGS on CLUSTER", clusterDenied+" per entity", cf, acls(clusterACL(kmsg.ACLOperationAlterConfigs)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrAlterClientQuotasRequest()
			r.ValidateOnly = true
			e := kmsg.NewAlterClientQuotasRequestEntry()
			e.Entity = []kmsg.AlterClientQuotasRequestEntryEntity{{Type: "user", Name: str("mx-user")}}
			e.Ops = []kmsg.AlterClientQuotasRequestEntryOp{{Key: "producer_byte_rate", Value: 1024}}
			r.Entries = append(r.Entries, e)
			return r
		}),
		row(50, "DESCRIBE on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationDescribe)),
			simple(func() kmsg.Request { return kmsg.NewPtrDescribeUserSCRAMCredentialsRequest() })),
		row(51, "ALTER on CLUSTER", clusterDenied+" per user", cf, acls(clusterACL(kmsg.ACLOperationAlter)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
			r.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "mx-nobody", Mechanism: 1}}
			return r
		}),
		row(55, "DESCRIBE on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationDescribe)),
			simple(func() kmsg.Request { return kmsg.NewPtrDescribeQuorumRequest() })),
		row(57, "ALTER on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationAlter)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrUpdateFeaturesRequest()
			r.ValidateOnly, r.TimeoutMillis = true, 5000
			return r
		}),
		{key: 60, what: "none (authorized operations: DESCRIBE on CLUSTER)", denied: "ClusterAuthorizedOperations 0", docs: true,
			hidden: func(resp kmsg.Response) bool {
				return resp.(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations == 0
			},
			allow: acls(clusterACL(kmsg.ACLOperationDescribe)),
			build: func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrDescribeClusterRequest()
				r.IncludeClusterAuthorizedOperations, r.EndpointType = true, 1
				return r
			}},
		row(61, "READ on TOPIC", topicDenied+" per partition", tf, acls(topicACL(kmsg.ACLOperationRead)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrDescribeProducersRequest()
			r.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: mxTopic, Partitions: []int32{0}}}
			return r
		}),
		row(65, "DESCRIBE on TRANSACTIONAL_ID (topics: DESCRIBE on TOPIC)", txnDenied+" for the id", xf, acls(txnACL(kmsg.ACLOperationDescribe)),
			func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrDescribeTransactionsRequest()
				r.TransactionalIDs = []string{mxTxn}
				return r
			}),
		{key: 66, what: "DESCRIBE on TRANSACTIONAL_ID", denied: "transaction left out", docs: true,
			hidden: func(resp kmsg.Response) bool {
				for _, s := range resp.(*kmsg.ListTransactionsResponse).TransactionStates {
					if s.TransactionalID == mxTxn {
						return false
					}
				}
				return true
			},
			allow: acls(txnACL(kmsg.ACLOperationDescribe)), build: simple(func() kmsg.Request { return kmsg.NewPtrListTransactionsRequest() })},
		{key: 71, what: "none", denied: "-", docs: true, build: simple(func() kmsg.Request { return kmsg.NewPtrGetTelemetrySubscriptionsRequest() })},
		row(74, "DESCRIBE_CONFIGS on CLUSTER", clusterDenied, cf, acls(clusterACL(kmsg.ACLOperationDescribeConfigs)),
			simple(func() kmsg.Request { return kmsg.NewPtrListConfigResourcesRequest() })),
		row(75, "DESCRIBE on TOPIC (topics named)", topicDenied+" for the topic", tf, acls(topicACL(kmsg.ACLOperationDescribe)), func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrDescribeTopicPartitionsRequest()
			r.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: mxTopic}}
			r.ResponsePartitionLimit = 100
			return r
		}),
		{key: 75, what: "DESCRIBE on TOPIC (all topics)", denied: "topic left out", hidden: topicHidden, docs: true,
			allow: acls(topicACL(kmsg.ACLOperationDescribe)), build: func(*matrixFixture, int) kmsg.Request {
				r := kmsg.NewPtrDescribeTopicPartitionsRequest()
				r.ResponsePartitionLimit = 100
				return r
			}},

		// The ACL model itself, on Metadata for the topic.
		{key: 3, what: "DENY beats ALLOW", code: tf, allow: acls(topicACL(kmsg.ACLOperationDescribe)),
			deny: acls(topicACL(kmsg.ACLOperationDescribe), denyACL(kmsg.ACLResourceTypeTopic, mxTopic, kmsg.ACLOperationDescribe)), build: metadata(mxTopic)},
		{key: 3, what: "DENY on a PREFIXED pattern beats a LITERAL ALLOW", code: tf, allow: acls(topicACL(kmsg.ACLOperationDescribe)),
			deny: acls(topicACL(kmsg.ACLOperationDescribe),
				aclSpec{kmsg.ACLResourceTypeTopic, "m", kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationAll, kmsg.ACLPermissionTypeDeny, "*"}),
			build: metadata(mxTopic)},
		{key: 3, what: "PREFIXED ALLOW matches; a longer prefix does not", code: tf,
			allow: acls(aclSpec{kmsg.ACLResourceTypeTopic, "m", kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow, "*"}),
			deny:  acls(aclSpec{kmsg.ACLResourceTypeTopic, "mxx", kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow, "*"}),
			build: metadata(mxTopic)},
		{key: 3, what: "LITERAL * matches every topic; a literal other name does not", code: tf,
			allow: acls(allowACL(kmsg.ACLResourceTypeTopic, "*", kmsg.ACLOperationDescribe)),
			deny:  acls(allowACL(kmsg.ACLResourceTypeTopic, "mx2", kmsg.ACLOperationDescribe)), build: metadata(mxTopic)},
		{key: 3, what: "host: the client's address matches, another does not", code: tf,
			allow: acls(aclSpec{kmsg.ACLResourceTypeTopic, mxTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow, "127.0.0.1"}),
			deny:  acls(aclSpec{kmsg.ACLResourceTypeTopic, mxTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow, "10.9.8.7"}),
			build: metadata(mxTopic)},
		{key: 3, what: "ALL allows DESCRIBE; READ implies DESCRIBE; DESCRIBE_CONFIGS does not", code: tf,
			allow: acls(topicACL(kmsg.ACLOperationRead)), deny: acls(topicACL(kmsg.ACLOperationDescribeConfigs)), build: metadata(mxTopic)},
		{key: 29, what: "super users bypass every ACL", code: cf, allowUser: "admin", build: func(*matrixFixture, int) kmsg.Request {
			r := kmsg.NewPtrDescribeACLsRequest()
			r.ResourceType, r.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return r
		}},
	}
	// Inter-broker and controller keys: Kafka needs CLUSTER_ACTION; arus
	// serves them only on the inter-broker listener, whose peers prove
	// membership first, and closes a client connection that sends one.
	for _, k := range []int16{27, 56, 59, 62, 63, 67} {
		k := k
		rows = append(rows, authzRow{key: k, what: "CLUSTER_ACTION on CLUSTER (inter-broker listener only)",
			denied: "not served on client listeners (not in ApiVersions; the connection is closed)", docs: true, closed: true, allowUser: "admin",
			build: func(*matrixFixture, int) kmsg.Request { return kmsg.RequestForKey(k) }})
	}
	// The SASL keys are answered by the server before authentication.
	rows = append(rows,
		authzRow{key: 17, what: "none (answered before authentication)", denied: "-", docs: true},
		authzRow{key: 36, what: "none (answered before authentication)", denied: "-", docs: true},
		authzRow{key: 72, what: "none", denied: "-", docs: true})
	return rows
}

// matrixBroker starts a broker with a SASL_PLAINTEXT listener whose PLAIN
// users are admin (a super user) and a<i>, d<i> for each row.
func matrixBroker(t *testing.T, rows int) *arustest.Broker {
	t.Helper()
	var jaas strings.Builder
	jaas.WriteString(`org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="pw"`)
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&jaas, ` user_a%d="pw" user_d%d="pw"`, i, i)
	}
	jaas.WriteString(";")
	props := map[string]string{
		"listeners":                      "SASL_PLAINTEXT://127.0.0.1:0",
		"listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT",
		"sasl.enabled.mechanisms":        "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas.String(),
		"authorizer.class.name":                               "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":                                         "User:admin",
		"allow.everyone.if.no.acl.found":                      "false",
	}
	return arustest.StartBroker(t, func(c *config.Broker) {
		c.Listener = ""
		if err := config.ApplyProperties(c, props); err != nil {
			t.Fatal(err)
		}
	})
}

// errorCodes collects every error code field (…ErrorCode) of a response.
func errorCodes(v reflect.Value, out map[int16]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			errorCodes(v.Elem(), out)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if strings.HasSuffix(f.Name, "ErrorCode") && f.Type.Kind() == reflect.Int16 {
				out[int16(v.Field(i).Int())] = true
				continue
			}
			errorCodes(v.Field(i), out)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			errorCodes(v.Index(i), out)
		}
	}
}

func authorizationCodes(codes map[int16]bool) []int16 {
	var out []int16
	for _, c := range []int16{kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Code,
		kerr.TransactionalIDAuthorizationFailed.Code} {
		if codes[c] {
			out = append(out, c)
		}
	}
	return out
}

func TestAuthorizationMatrix(t *testing.T) {
	ctx := testContext(t)
	rows := authzRows()
	b := matrixBroker(t, len(rows))
	addr := b.ListenerAddr("SASL_PLAINTEXT").String()
	client := func(user string, opts ...kgo.Opt) *kgo.Client {
		return newFranz(t, addr, append([]kgo.Opt{kgo.SASL(plain.Auth{User: user, Pass: "pw"}.AsMechanism())}, opts...)...)
	}
	admin := client("admin")
	adm := kadm.NewClient(admin)

	// The resources: a topic with a record, a group with an offset, an
	// initialized transactional id, one topic per DeleteTopics row.
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, mxTopic); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if r.key == 20 {
			if _, err := adm.CreateTopic(ctx, 1, 1, nil, fmt.Sprintf("%s%d", mxDelete, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: mxTopic, Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := adm.CommitAllOffsets(ctx, mxGroup, kadm.Offsets{mxTopic: {0: {Topic: mxTopic, Partition: 0, At: 1}}}); err != nil {
		t.Fatal(err)
	}
	arustest.Eventually(t, 10*time.Second, "init the matrix's transactional id", func() bool {
		ip := kmsg.NewPtrInitProducerIDRequest()
		ip.TransactionalID, ip.TransactionTimeoutMillis = str(mxTxn), 60000
		resp, err := ip.RequestWith(ctx, admin)
		return err == nil && resp.ErrorCode == 0
	})
	f := &matrixFixture{topicID: topicID(t, ctx, admin, mxTopic)}

	// Every row's ACLs in one request.
	create := kmsg.NewPtrCreateACLsRequest()
	add := func(user string, specs []aclSpec) {
		for _, s := range specs {
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = s.rt, s.name, s.pattern
			c.Principal, c.Host, c.Operation, c.PermissionType = "User:"+user, s.host, s.op, s.perm
			create.Creations = append(create.Creations, c)
		}
	}
	for i, r := range rows {
		if r.key == 20 {
			r.allow = []aclSpec{allowACL(kmsg.ACLResourceTypeTopic, fmt.Sprintf("%s%d", mxDelete, i), kmsg.ACLOperationDelete)}
			rows[i] = r
		}
		add(fmt.Sprintf("a%d", i), r.allow)
		add(fmt.Sprintf("d%d", i), r.deny)
	}
	// A sentinel tells when the ACLs have reached the broker's authorizer.
	add("a0", []aclSpec{allowACL(kmsg.ACLResourceTypeTopic, "mx-sentinel", kmsg.ACLOperationDescribe)})
	cresp, err := create.RequestWith(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range cresp.Results {
		if res.ErrorCode != 0 {
			t.Fatalf("create ACL %d: %v", i, kerr.ErrorForCode(res.ErrorCode))
		}
	}
	a0 := client("a0")
	arustest.Eventually(t, 10*time.Second, "the ACLs apply", func() bool {
		resp, err := metadata1(ctx, a0, "mx-sentinel")
		return err == nil && resp.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code
	})

	for i, r := range rows {
		if r.build == nil && r.key != 20 {
			continue // answered before authentication
		}
		if r.key == 20 {
			name := fmt.Sprintf("%s%d", mxDelete, i)
			r.build = func(*matrixFixture, int) kmsg.Request {
				req := kmsg.NewPtrDeleteTopicsRequest()
				req.TimeoutMillis = 5000
				req.TopicNames = []string{name}
				req.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: str(name)}}
				return req
			}
		}
		t.Run(fmt.Sprintf("%02d_%s/%s", r.key, kmsg.NameForKey(r.key), r.what), func(t *testing.T) {
			var opts []kgo.Opt
			if r.maxVer > 0 {
				v := kversion.Stable()
				v.SetMaxKeyVersion(r.maxKey, r.maxVer)
				opts = append(opts, kgo.MaxVersions(v))
			}
			send := func(user string) (kmsg.Response, error) {
				cl := client(user, opts...)
				return cl.SeedBrokers()[0].RetriableRequest(ctx, r.build(f, i))
			}
			allowedUser := fmt.Sprintf("a%d", i)
			if r.allowUser != "" {
				allowedUser = r.allowUser
			}
			if r.closed {
				// Not in ApiVersions, so clients do not send it; sent
				// anyway, even by a super user, it closes the connection.
				if resp, err := send(fmt.Sprintf("d%d", i)); err == nil {
					t.Fatalf("a client listener answered %T", resp)
				}
				c := plainSASLConn(t, addr, allowedUser)
				req := r.build(f, i)
				if _, err := c.Write(rawRequest(req, 3)); err != nil {
					t.Fatal(err)
				}
				expectClosed(t, c)
				return
			}
			denied, err := send(fmt.Sprintf("d%d", i))
			if err != nil {
				t.Fatalf("denied principal: %v", err)
			}
			allowed, err := send(allowedUser)
			if err != nil {
				t.Fatalf("allowed principal: %v", err)
			}
			dc, ac := map[int16]bool{}, map[int16]bool{}
			errorCodes(reflect.ValueOf(denied), dc)
			errorCodes(reflect.ValueOf(allowed), ac)
			if got := authorizationCodes(ac); len(got) > 0 {
				t.Errorf("allowed principal got %v: %+v", got, allowed)
			}
			switch {
			case r.hidden != nil:
				// Kafka filters here: no error, the resource is just not there.
				if got := authorizationCodes(dc); len(got) > 0 {
					t.Errorf("denied principal got %v where Kafka leaves the resource out", got)
				}
				if !r.hidden(denied) {
					t.Errorf("denied principal sees the resource: %+v", denied)
				}
				if r.hidden(allowed) {
					t.Errorf("allowed principal does not see the resource: %+v", allowed)
				}
			case r.code != 0:
				if !dc[r.code] {
					t.Errorf("denied principal: codes %v, want %v: %+v", dc, kerr.ErrorForCode(r.code), denied)
				}
			default:
				if got := authorizationCodes(dc); len(got) > 0 {
					t.Errorf("key needs no ACL, yet got %v", got)
				}
			}
		})
	}

	// Every key served has a row.
	covered := map[int16]bool{}
	for _, r := range rows {
		covered[r.key] = true
	}
	for k := int16(0); k < 100; k++ {
		if _, _, ok := api.VersionRange(k); ok && !covered[k] {
			t.Errorf("key %d (%s) is served but has no row in the authorization matrix", k, kmsg.NameForKey(k))
		}
	}
}

// plainSASLConn opens a raw connection authenticated as user with SASL
// PLAIN (SaslHandshake v1, SaslAuthenticate v2).
func plainSASLConn(t *testing.T, addr, user string) net.Conn {
	t.Helper()
	c := dial(t, addr)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	if _, err := c.Write(rawRequest(hs, 1)); err != nil {
		t.Fatal(err)
	}
	hsResp := kmsg.NewPtrSASLHandshakeResponse()
	hsResp.Version = 1
	if err := hsResp.ReadFrom(readResponse(t, c, 1)); err != nil || hsResp.ErrorCode != 0 {
		t.Fatalf("sasl handshake: %v %+v", err, hsResp)
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version, au.SASLAuthBytes = 2, []byte("\x00"+user+"\x00pw")
	if _, err := c.Write(rawRequest(au, 2)); err != nil {
		t.Fatal(err)
	}
	auResp := kmsg.NewPtrSASLAuthenticateResponse()
	auResp.Version = 2
	if err := auResp.ReadFrom(readResponse(t, c, 2)[1:]); err != nil || auResp.ErrorCode != 0 { // [1:]: header tags
		t.Fatalf("sasl authenticate: %v %+v", err, auResp)
	}
	return c
}

func metadata1(ctx context.Context, cl *kgo.Client, topic string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = str(topic)
	req.Topics = append(req.Topics, mt)
	return req.RequestWith(ctx, cl)
}

// TestAuthorizationMatrixDoc keeps docs/authorization.md's table equal to
// the matrix.
func TestAuthorizationMatrixDoc(t *testing.T) {
	const path = "../../docs/authorization.md"
	const begin, end = "<!-- matrix:begin -->\n", "<!-- matrix:end -->\n"
	var table strings.Builder
	table.WriteString("| Key | API | Checked | Without it |\n|---:|---|---|---|\n")
	for _, r := range authzRows() {
		if r.docs {
			fmt.Fprintf(&table, "| %d | %s | %s | %s |\n", r.key, kmsg.NameForKey(r.key), r.what, r.denied)
		}
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q section", path, begin, end)
	}
	current := string(doc[i+len(begin) : j])
	if current == table.String() {
		return
	}
	if !*updateAuthzDoc {
		t.Fatalf("%s is out of date with the authorization matrix; rerun with -update-authz-doc", path)
	}
	out := append(append(append([]byte{}, doc[:i+len(begin)]...), table.String()...), doc[j:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
