package broker_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// TestKgoSuiteGatesAreHonest checks the ApiVersions entries franz-go's own
// integration tests gate on (pkg/kgo helpers_test.go adm(): JoinGroup v5+
// for static membership, ConsumerGroupHeartbeat v1 for KIP-848, ShareFetch
// and ShareAcknowledge v2 for share groups; scripts/kgo-suite.sh runs that
// suite). A gate arus opens must lead to a served request, and a request
// behind a closed gate must get Kafka's answer for an API the listener does
// not enable: the connection closed (SocketServer.parseRequestHeader,
// ApiVersionManager.isApiEnabled false) or UNSUPPORTED_VERSION (KafkaApis
// for a disabled feature), never a served-looking answer. Either way
// franz-go's suite then runs or skips each test exactly as against a Kafka
// advertising the same keys (Kafka 3.9 for KIP-848, 4.0/4.1 for share groups).
func TestKgoSuiteGatesAreHonest(t *testing.T) {
	b := arustest.StartBroker(t)
	cl := newFranz(t, b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	advertised := map[int16]int16{}
	for _, k := range av.ApiKeys {
		advertised[k.ApiKey] = k.MaxVersion
	}

	// Static membership (KIP-345) is served, so the suite's static
	// subtests run: a static member joins.
	if advertised[11] < 5 {
		t.Fatalf("JoinGroup advertised up to v%d, static membership needs v5", advertised[11])
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "g", "consumer", 10000, 10000
	instance := "static-1"
	join.InstanceID = &instance
	join.Protocols = append(join.Protocols, kmsg.JoinGroupRequestProtocol{Name: "range", Metadata: []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0}})
	jr, err := join.RequestWith(ctx, cl)
	if err != nil || jr.ErrorCode != 0 || jr.MemberID == "" {
		t.Fatalf("static JoinGroup: %v %v %+v", err, kerr.ErrorForCode(jr.ErrorCode), jr)
	}

	for _, gate := range []struct {
		req     kmsg.Request
		version int16
		code    func([]byte, int16) (int16, error)
	}{
		{kmsg.NewPtrConsumerGroupHeartbeatRequest(), 1, func(body []byte, v int16) (int16, error) {
			r := kmsg.NewPtrConsumerGroupHeartbeatResponse()
			r.SetVersion(v)
			return r.ErrorCode, r.ReadFrom(body)
		}},
		{kmsg.NewPtrShareFetchRequest(), 2, func(body []byte, v int16) (int16, error) {
			r := kmsg.NewPtrShareFetchResponse()
			r.SetVersion(v)
			return r.ErrorCode, r.ReadFrom(body)
		}},
		{kmsg.NewPtrShareAcknowledgeRequest(), 2, func(body []byte, v int16) (int16, error) {
			r := kmsg.NewPtrShareAcknowledgeResponse()
			r.SetVersion(v)
			return r.ErrorCode, r.ReadFrom(body)
		}},
	} {
		name := kmsg.NameForKey(gate.req.Key())
		maxV, open := advertised[gate.req.Key()]
		open = open && maxV >= gate.version
		gate.req.SetVersion(gate.version)
		c := dial(t, b.Addr())
		if _, err := c.Write(rawRequest(gate.req, 9)); err != nil {
			t.Fatal(err)
		}
		body, closed := readOrClosed(t, c, 9)
		if closed {
			if open {
				t.Errorf("%s v%d is advertised but the connection was closed", name, gate.version)
			}
			t.Logf("%s v%d (advertised %v): connection closed", name, gate.version, open)
			continue
		}
		code, err := gate.code(body[1:], gate.version) // flexible: skip header tags
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s v%d (advertised %v): %v", name, gate.version, open, kerr.ErrorForCode(code))
		switch {
		case open && code == kerr.UnsupportedVersion.Code:
			t.Errorf("%s v%d is advertised but answered UNSUPPORTED_VERSION", name, gate.version)
		case !open && code != kerr.UnsupportedVersion.Code:
			t.Errorf("%s v%d is not advertised but answered %v, want UNSUPPORTED_VERSION or a close", name, gate.version, kerr.ErrorForCode(code))
		}
	}
	healthy(t, b.Addr())
}

// readOrClosed reads one response, or reports that the broker closed the
// connection instead.
func readOrClosed(t *testing.T, c net.Conn, correlation int32) ([]byte, bool) {
	t.Helper()
	var one [1]byte
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(one[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("no response and no close within 10s")
		}
		return nil, true // EOF or reset: closed
	}
	return readResponse(t, &prefixed{Conn: c, first: one[0], has: true}, correlation), false
}

// prefixed replays one byte already read from the connection.
type prefixed struct {
	net.Conn
	first byte
	has   bool
}

func (p *prefixed) Read(b []byte) (int, error) {
	if p.has && len(b) > 0 {
		p.has = false
		b[0] = p.first
		return 1, nil
	}
	return p.Conn.Read(b)
}
