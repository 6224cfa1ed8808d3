//go:build integration

package crash

// TestClusterKillSASLSSL: TestClusterKill on a cluster secured as Kafka
// users secure theirs. Every listener is SASL_SSL with a generated CA:
// clients log in with SCRAM-SHA-512 (the producer) or PLAIN (the admin),
// brokers replicate, forward, register and run Raft over a SASL_SSL
// inter-broker listener as the PLAIN user "broker", and the
// StandardAuthorizer is on (the producer writes through ACLs only). Two
// kill rounds (a partition leader, then the active controller) keep the
// added time near a minute; the no-acknowledged-write-lost checks and the
// byte-for-byte replica comparison are TestClusterKill's.

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/server"
)

// Users of the secured cluster.
const (
	adminUser     = "admin"
	producerUser  = "producer"
	brokerSecret  = "broker-secret"
	adminSecret   = "admin-secret"
	producerScram = "producer-secret"
)

// clusterSecurity is a CA and the files every node of a SASL_SSL
// cluster shares.
type clusterSecurity struct {
	ca                   *arustest.CA
	keystore, truststore string
}

// newClusterSecurity makes the CA and the nodes' certificate, valid for
// 127.0.0.1 and for every one of hosts (the nodes' listener addresses
// when they are not on 127.0.0.1): peers and clients verify the host
// they dial.
func newClusterSecurity(t *testing.T, hosts ...string) *clusterSecurity {
	t.Helper()
	dir := t.TempDir()
	ca := arustest.NewCA(t, "arus crash CA")
	// One certificate serves every node (and is each node's client
	// certificate towards its peers).
	return &clusterSecurity{ca: ca, keystore: arustest.WriteFile(t, dir, "node.pem", ca.Issue(t, "arus-node", true, hosts...)),
		truststore: arustest.WriteFile(t, dir, "ca.pem", ca.PEM)}
}

// writeProperties writes a node's server.properties (Kafka's keys) into
// dir and returns its path.
func (s *clusterSecurity) writeProperties(t *testing.T, dir, listener, inter string) string {
	t.Helper()
	props := []string{
		"listeners=SASL_SSL://" + listener + ",BROKER://" + inter,
		"listener.security.protocol.map=SASL_SSL:SASL_SSL,BROKER:SASL_SSL",
		"inter.broker.listener.name=BROKER",
		"ssl.keystore.type=PEM",
		"ssl.keystore.location=" + s.keystore,
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + s.truststore,
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
		"listener.name.broker.sasl.enabled.mechanisms=PLAIN",
		"sasl.mechanism.inter.broker.protocol=PLAIN",
		`listener.name.broker.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`username="broker" password="` + brokerSecret + `" user_broker="` + brokerSecret + `";`,
		`listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_admin="` + adminSecret + `";`,
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=User:broker;User:admin",
	}
	return arustest.WriteFile(t, dir, "server.properties", []byte(strings.Join(props, "\n")+"\n"))
}

// clientOpts are the TLS and SASL options of a client logging in as user
// (admin: PLAIN; producer: SCRAM-SHA-512).
func (s *clusterSecurity) clientOpts(user string) []kgo.Opt {
	return []kgo.Opt{kgo.DialTLSConfig(s.clientTLS()), s.saslOpt(user)}
}

// clientTLS is a client's TLS configuration: the test CA as the only
// root, the server's host name (or IP) verified.
func (s *clusterSecurity) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.ca.Pool(), MinVersion: tls.VersionTLS12}
}

// saslOpt is user's login (admin: PLAIN; others: SCRAM-SHA-512).
func (s *clusterSecurity) saslOpt(user string) kgo.Opt {
	if user == adminUser {
		return kgo.SASL(plain.Auth{User: adminUser, Pass: adminSecret}.AsMechanism())
	}
	return kgo.SASL(scram.Auth{User: user, Pass: producerScram}.AsSha512Mechanism())
}

// tlsDialer wraps dial (a custom dialer, which franz-go does not combine
// with DialTLSConfig) with a TLS client handshake that verifies the
// dialed host against the test CA.
func (s *clusterSecurity) tlsDialer(dial func(ctx context.Context, network, host string) (net.Conn, error)) func(ctx context.Context, network, host string) (net.Conn, error) {
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		raw, err := dial(ctx, network, host)
		if err != nil {
			return nil, err
		}
		name, _, err := net.SplitHostPort(host)
		if err != nil {
			raw.Close()
			return nil, err
		}
		cfg := s.clientTLS()
		cfg.ServerName = name
		c := tls.Client(raw, cfg)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return c, nil
	}
}

// producerSetup creates the producer's SCRAM credential and its ACLs
// (WRITE and DESCRIBE on the topic; IDEMPOTENT_WRITE on the cluster),
// through the cluster as the admin, and returns the producer's options.
func (s *clusterSecurity) producerSetup(t *testing.T, c *cluster) []kgo.Opt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addrs()...)}, c.clientOpts...)...)
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: producerUser, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: producerScram},
	})
	if err == nil {
		err = altered.Error()
	}
	if err != nil {
		t.Fatalf("create the producer's SCRAM credential: %v", err)
	}
	topicACL := kadm.NewACLs().Allow("User:"+producerUser).Topics(c.topic).
		Operations(kadm.OpWrite, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	clusterACL := kadm.NewACLs().Allow("User:" + producerUser).Clusters().
		Operations(kadm.OpIdempotentWrite).ResourcePatternType(kadm.ACLPatternLiteral)
	for _, acl := range []*kadm.ACLBuilder{topicACL, clusterACL} {
		res, err := adm.CreateACLs(ctx, acl)
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			t.Fatalf("create the producer's ACLs: %v", err)
		}
	}
	// Every node must know the credential and the ACLs before the load
	// starts (they reach each node with its metadata).
	opts := s.clientOpts(producerUser)
	for _, id := range c.ids {
		waitFor(t, 30*time.Second, "the producer can log in and see the topic on every node", func() bool {
			pc, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addr(id))}, opts...)...)
			if err != nil {
				return false
			}
			defer pc.Close()
			tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			md, err := kadm.NewClient(pc).Metadata(tctx, c.topic)
			return err == nil && md.Topics[c.topic].Err == nil && len(md.Topics[c.topic].Partitions) == numPartitions
		})
	}
	return opts
}

// checkPlainRefused asserts that node id's inter-broker listener does not
// serve a plain TCP peer (no TLS, no login): the handshake and an
// ApiVersions request get the connection closed, not an answer.
func (s *clusterSecurity) checkPlainRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial the inter-broker listener %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrApiVersionsRequest()
	frame := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.GetVersion()))
	frame = binary.BigEndian.AppendUint32(frame, 1)
	frame = binary.BigEndian.AppendUint16(frame, 0xffff) // null client id
	frame = req.AppendTo(frame)
	msg := append(server.AppendPeerHandshake(nil, 1, ""), binary.BigEndian.AppendUint32(nil, uint32(len(frame)))...)
	if _, err := c.Write(append(msg, frame...)); err != nil {
		return // closed already
	}
	_, err = io.ReadFull(c, make([]byte, 4))
	var ne net.Error
	switch {
	case err == nil:
		t.Fatalf("the SASL_SSL inter-broker listener %s answered a plain connection", addr)
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("the SASL_SSL inter-broker listener %s neither answered nor closed a plain connection", addr)
	}
}

func TestClusterKillSASLSSL(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test (about a minute); skipped with -short")
	}
	rng, seed := seededRand(t)
	rounds := []killRound{
		{kind: killLeader, after: 300 + rng.Int64N(900)},
		{kind: killController, after: 1 + rng.Int64N(500)},
	}
	spec := localSpec(t, 3)
	spec.secure = newClusterSecurity(t)
	runClusterKill(t, spec, rounds, seed)
}

// TestClusterNetworkPartitionSASLSSL: TestClusterNetworkPartition on a
// cluster secured as TestClusterKillSASLSSL's, in network namespaces. The
// nodes' certificate names their lab addresses (10.a.b.N) as IP SANs, so
// brokers and clients verify the host they dial; the producer (SCRAM, ACLs
// only) and the isolated producer inside the cut-off node's namespace
// (TLS and SCRAM over its own dialer) write through the SASL_SSL client
// listener, the brokers talk over the SASL_SSL inter-broker listener.
func TestClusterNetworkPartitionSASLSSL(t *testing.T) {
	if testing.Short() {
		t.Skip("network partition test (about 1 minute); skipped with -short")
	}
	rng, seed := seededRand(t)
	ids := []int32{1, 2, 3}
	lab := newNetLab(t, rng, ids)
	spec := lab.spec(ids)
	var hosts []string
	for _, id := range ids {
		hosts = append(hosts, spec.hosts[id])
	}
	spec.secure = newClusterSecurity(t, hosts...)
	runClusterNetworkPartition(t, lab, spec, rng, seed)
}
