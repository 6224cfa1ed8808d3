package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRegistrationMaxPartitionsTag: the partition limit a broker puts into
// its BrokerRegistration survives encoding (as an unknown tagged field) and
// is read back by the controller side; a request without it reads 0.
func TestRegistrationMaxPartitionsTag(t *testing.T) {
	for _, version := range []int16{0, 4} {
		req := kmsg.NewPtrBrokerRegistrationRequest()
		req.Version = version
		req.BrokerID = 3
		SetRegistrationMaxPartitions(req, 18976)
		wire := req.AppendTo(nil)
		got := kmsg.NewPtrBrokerRegistrationRequest()
		got.Version = version
		if err := got.ReadFrom(wire); err != nil {
			t.Fatalf("v%d: decode: %v", version, err)
		}
		if n := registrationMaxPartitions(got); n != 18976 || got.BrokerID != 3 {
			t.Fatalf("v%d: limit %d broker %d after a round trip, want 18976 and 3", version, n, got.BrokerID)
		}
		plain := kmsg.NewPtrBrokerRegistrationRequest()
		plain.Version = version
		if err := plain.ReadFrom(plain.AppendTo(nil)); err != nil {
			t.Fatal(err)
		}
		if n := registrationMaxPartitions(plain); n != 0 {
			t.Fatalf("v%d: limit %d without the tag, want 0", version, n)
		}
	}
}
