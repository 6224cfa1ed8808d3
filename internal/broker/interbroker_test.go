package broker_test

// Inter-broker and controller APIs are served only on the inter-broker
// listener, to peers whose handshake names a node of this cluster.

import (
	"encoding/binary"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/server"
)

// interBrokerRequests are the requests only peers may send, as a fake
// broker would: register node 99, fence node 1, shrink an ISR, take
// producer ids, copy the metadata image.
func interBrokerRequests() []kmsg.Request {
	reg := kmsg.NewPtrBrokerRegistrationRequest()
	reg.BrokerID = 99
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", "evil.example", 9092
	reg.Listeners = append(reg.Listeners, l)
	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.BrokerID, hb.WantShutdown = 1, true
	ap := kmsg.NewPtrAlterPartitionRequest()
	ap.Version, ap.BrokerID = 2, 1
	pid := kmsg.NewPtrAllocateProducerIDsRequest()
	pid.BrokerID = 1
	fs := kmsg.NewPtrFetchSnapshotRequest()
	fs.ReplicaID = 1
	return []kmsg.Request{reg, hb, ap, pid, fs}
}

// dialPeer opens a connection to an inter-broker listener with the
// handshake of nodeID in clusterID.
func dialPeer(t *testing.T, addr string, nodeID int32, clusterID string) net.Conn {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Write(server.AppendPeerHandshake(nil, nodeID, clusterID)); err != nil {
		t.Fatal(err)
	}
	return c
}

func apiVersionKeys(t *testing.T, c net.Conn) []int16 {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	if _, err := c.Write(rawRequest(req, 7)); err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	if err := resp.ReadFrom(readResponse(t, c, 7)); err != nil {
		t.Fatal(err)
	}
	var keys []int16
	for _, k := range resp.ApiKeys {
		keys = append(keys, k.ApiKey)
	}
	return keys
}

func TestClientListenerRefusesInterBrokerAPIs(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "t", 1, nil)

	// Each inter-broker request closes the client's connection, as Kafka's
	// SocketServer does for a key its listener does not enable.
	for i, req := range interBrokerRequests() {
		c := dial(t, b.Addr())
		if _, err := c.Write(rawRequest(req, int32(i))); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
	}
	// No fake broker, nobody fenced: Metadata still shows node 1 alone,
	// and it still serves.
	cl := newFranz(t, b.Addr())
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := md.Brokers.NodeIDs(); !slices.Equal(ids, []int32{1}) {
		t.Fatalf("brokers in Metadata: %v, want [1]", ids)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce after the refusals: %v", err)
	}
	if im := b.Controller().Image(); len(im.Brokers) != 1 || im.Brokers[1].Fenced {
		t.Fatalf("brokers in the image: %+v", im.Brokers)
	}

	// ApiVersions on the client listener does not advertise them; on the
	// inter-broker listener it does.
	internal := []int16{56, 59, 62, 63, 67}
	for _, k := range apiVersionKeys(t, dial(t, b.Addr())) {
		if slices.Contains(internal, k) {
			t.Fatalf("client listener advertises inter-broker key %d", k)
		}
	}
	peerKeys := apiVersionKeys(t, dialPeer(t, b.InterBrokerAddr().String(), 1, b.Controller().Image().ClusterID))
	for _, k := range internal {
		if !slices.Contains(peerKeys, k) {
			t.Fatalf("inter-broker listener does not advertise key %d: %v", k, peerKeys)
		}
	}

	// A replica fetch on the client listener gets Kafka's answer for a
	// follower without ClusterAction: TOPIC_AUTHORIZATION_FAILED.
	f := kmsg.NewPtrFetchRequest()
	f.Version, f.ReplicaID, f.MaxWaitMillis = 16, -1, 0
	f.ReplicaState.ID, f.ReplicaState.Epoch = 1, 0
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = topicID(t, ctx, cl, "t")
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	resp, err := f.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 ||
		resp.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code || len(resp.Topics[0].Partitions[0].RecordBatches) != 0 {
		t.Fatalf("replica fetch on the client listener: %+v", resp.Topics)
	}
	healthy(t, b.Addr())
}

func TestInterBrokerListenerRefusesStrangers(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "t", 1, nil)
	inter := b.InterBrokerAddr().String()
	cid := b.Controller().Image().ClusterID
	send := func(c net.Conn, req kmsg.Request) {
		t.Helper()
		if _, err := c.Write(rawRequest(req, 1)); err != nil {
			t.Fatal(err)
		}
	}
	hb := func(id int32) kmsg.Request {
		r := kmsg.NewPtrBrokerHeartbeatRequest()
		r.BrokerID = id
		return r
	}

	// A Kafka client without the handshake.
	c := dial(t, inter)
	send(c, kmsg.NewPtrApiVersionsRequest())
	expectClosed(t, c)

	// A peer of another cluster.
	c = dialPeer(t, inter, 1, "another-cluster-id")
	send(c, kmsg.NewPtrApiVersionsRequest())
	expectClosed(t, c)

	// A node that is not registered.
	c = dialPeer(t, inter, 7, cid)
	send(c, hb(7))
	expectClosed(t, c)
	c = dialPeer(t, inter, 7, cid)
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.ReplicaID = 16, -1
	fetch.ReplicaState.ID = 7
	send(c, fetch)
	expectClosed(t, c)

	// A registered node speaking for another.
	c = dialPeer(t, inter, 1, cid)
	send(c, hb(2))
	expectClosed(t, c)

	// BrokerRegistration naming another cluster: Kafka's
	// INCONSISTENT_CLUSTER_ID (ClusterControlManager.registerBroker).
	c = dialPeer(t, inter, 8, cid)
	reg := kmsg.NewPtrBrokerRegistrationRequest()
	reg.BrokerID, reg.ClusterID = 8, "another-cluster-id"
	send(c, reg)
	rr := kmsg.NewPtrBrokerRegistrationResponse()
	if err := rr.ReadFrom(readResponse(t, c, 1)[1:]); /* flexible: header tags */ err != nil {
		t.Fatal(err)
	}
	if rr.ErrorCode != kerr.InconsistentClusterID.Code {
		t.Fatalf("registration with another cluster id: error %d, want INCONSISTENT_CLUSTER_ID", rr.ErrorCode)
	}
	if _, ok := b.Controller().Image().Brokers[8]; ok {
		t.Fatal("node 8 registered with another cluster's id")
	}

	// Raft: a node that is not a voter (this node is the only one), and
	// the old preface without an identity.
	for _, preface := range [][]byte{raftPreface(9, cid), []byte("arusraf1")} {
		c = dial(t, inter)
		if _, err := c.Write(preface); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
	}

	// The registered node itself is served.
	c = dialPeer(t, inter, 1, cid)
	send(c, hb(1))
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	if err := resp.ReadFrom(readResponse(t, c, 1)[1:]); /* flexible: header tags */ err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || resp.IsFenced {
		t.Fatalf("heartbeat of node 1: error %d fenced %v", resp.ErrorCode, resp.IsFenced)
	}
	healthy(t, b.Addr())
}

// raftPreface is the Raft transport's preface (docs/format/metadata-raft.md).
func raftPreface(nodeID uint64, clusterID string) []byte {
	b := append([]byte("arusraf2"), binary.BigEndian.AppendUint64(nil, nodeID)...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(clusterID)))
	return append(b, clusterID...)
}

// TestQuorumRaftRefusesOtherCluster: a voter of the right id but another
// cluster is refused by the Raft transport, and the quorum keeps working.
func TestQuorumRaftRefusesOtherCluster(t *testing.T) {
	c := arustest.StartQuorumCluster(t, 3)
	arustest.Eventually(t, 30*time.Second, "an active controller", func() bool { return c.ActiveController() > 0 })
	ctx := testContext(t)
	arustest.Eventually(t, 30*time.Second, "cluster id known", func() bool { return c.Broker(1).Controller().Image().ClusterID != "" })
	conn := dial(t, c.InterBrokerAddr(1))
	if _, err := conn.Write(raftPreface(2, "another-cluster-id")); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, conn)
	createTopic(t, ctx, c.Addrs()[0], "after", 1, nil)
	cl := newFranz(t, c.Addrs()[1])
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "after", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce after the refusal: %v", err)
	}
}
