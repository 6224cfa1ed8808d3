package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// TestUnservedKeysLikeKafka sends, without consulting ApiVersions,
// requests arus does not serve. Kafka 4 answers a key its broker listener
// serves but has turned off with UNSUPPORTED_VERSION in the response
// (KafkaApis for disabled features), SASL keys on a plaintext listener
// with ILLEGAL_SASL_STATE, and closes the connection for keys not enabled
// on the listener (SocketServer.parseRequestHeader: ApiVersionManager.isApiEnabled
// false -> InvalidRequestException -> close).
func TestUnservedKeysLikeKafka(t *testing.T) {
	b := arustest.StartBroker(t)

	for i, tc := range []struct {
		req  kmsg.Request
		want *kerr.Error
		read func([]byte) (int16, error)
	}{
		{kmsg.NewPtrDescribeDelegationTokenRequest(), kerr.UnsupportedVersion, func(body []byte) (int16, error) {
			r := kmsg.NewPtrDescribeDelegationTokenResponse()
			r.SetVersion(kmsg.NewPtrDescribeDelegationTokenRequest().MaxVersion())
			return r.ErrorCode, r.ReadFrom(body)
		}},
		// Served now; without an authorizer Kafka answers SECURITY_DISABLED.
		{kmsg.NewPtrDescribeACLsRequest(), kerr.SecurityDisabled, func(body []byte) (int16, error) {
			r := kmsg.NewPtrDescribeACLsResponse()
			r.SetVersion(kmsg.NewPtrDescribeACLsRequest().MaxVersion())
			return r.ErrorCode, r.ReadFrom(body)
		}},
		{kmsg.NewPtrSASLHandshakeRequest(), kerr.IllegalSaslState, func(body []byte) (int16, error) {
			r := kmsg.NewPtrSASLHandshakeResponse()
			r.SetVersion(kmsg.NewPtrSASLHandshakeRequest().MaxVersion())
			err := r.ReadFrom(body)
			return r.ErrorCode, err
		}},
	} {
		c := dial(t, b.Addr())
		tc.req.SetVersion(tc.req.MaxVersion())
		if _, err := c.Write(rawRequest(tc.req, int32(100+i))); err != nil {
			t.Fatal(err)
		}
		body := readResponse(t, c, int32(100+i))
		if tc.req.IsFlexible() {
			body = body[1:] // response header tags
		}
		code, err := tc.read(body)
		if err != nil || code != tc.want.Code {
			t.Errorf("%s: %v %v, want %v", kmsg.NameForKey(tc.req.Key()), err, kerr.ErrorForCode(code), tc.want)
		}
		// The connection stays usable.
		av := kmsg.NewPtrApiVersionsRequest()
		if _, err := c.Write(rawRequest(av, 7)); err != nil {
			t.Fatal(err)
		}
		readResponse(t, c, 7)
	}

	// Keys Kafka's broker listener does not serve (LeaderAndIsr is a
	// ZooKeeper-era controller key, Vote a quorum key): the connection is
	// closed.
	for _, req := range []kmsg.Request{kmsg.NewPtrLeaderAndISRRequest(), kmsg.NewPtrVoteRequest()} {
		c := dial(t, b.Addr())
		if _, err := c.Write(rawRequest(req, 1)); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
	}
	healthy(t, b.Addr())
}
