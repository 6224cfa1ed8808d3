package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// BenchmarkProduceAuthorization produces 1 KiB records through a
// one-node broker with authorization off and on (StandardAuthorizer,
// allow.everyone.if.no.acl.found, 200 topic ACLs of another principal,
// a LITERAL ALLOW for the producer and a PREFIXED DENY that does not
// match), and reports the throughput
// and the broker's and client's allocations per record together.
// Records go async in batches (linger 5 ms), as a producer sends them.
func BenchmarkProduceAuthorization(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("authorizer=%v", on), func(b *testing.B) {
			ctx := testContext(b)
			props := map[string]string{}
			if on {
				props = map[string]string{
					"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
					// The client is ANONYMOUS over PLAINTEXT: it may create
					// the topic and the ACLs while they have none.
					"allow.everyone.if.no.acl.found": "true",
				}
			}
			br := arustest.StartBroker(b, func(c *config.Broker) {
				if err := config.ApplyProperties(c, props); err != nil {
					b.Fatal(err)
				}
			})
			createTopic(b, ctx, br.Addr(), "bench", 1, nil)
			if on {
				acls := kadm.NewACLs().Allow("User:ANONYMOUS").Topics("bench").Operations(kadm.OpWrite, kadm.OpDescribe).
					ResourcePatternType(kadm.ACLPatternLiteral)
				adm := kadm.NewClient(newFranz(b, br.Addr()))
				var others []string
				for i := range 200 {
					others = append(others, fmt.Sprintf("other-%d", i))
				}
				for _, a := range []*kadm.ACLBuilder{acls,
					kadm.NewACLs().Allow("User:someone").Topics(others...).Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral),
					kadm.NewACLs().Deny("User:ANONYMOUS").Topics("bench-not").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternPrefixed),
				} {
					if res, err := adm.CreateACLs(ctx, a); err != nil || res[0].Err != nil {
						b.Fatalf("create acls: %v %v", err, res)
					}
				}
				// Allowed once the ACLs reached the authorizer.
				cl := newFranz(b, br.Addr(), kgo.DisableIdempotentWrite())
				arustest.Eventually(b, 10*time.Second, "the producer's ACL applies", func() bool {
					return cl.ProduceSync(ctx, &kgo.Record{Topic: "bench", Value: []byte("x")}).FirstErr() == nil
				})
			}
			cl := newFranz(b, br.Addr(), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(5*time.Millisecond))
			value := make([]byte, 1024)
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				cl.Produce(ctx, &kgo.Record{Topic: "bench", Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						b.Error(err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
