package config

import (
	"strings"
	"testing"
)

// A Kafka server.properties with a SASL_SSL inter-broker listener and
// per-listener overrides, as Kafka reads it.
func TestInterBrokerSecurityProperties(t *testing.T) {
	props := map[string]string{
		"node.id":                                             "1",
		"listeners":                                           "SASL_SSL://127.0.0.1:9093,BROKER://127.0.0.1:9094,MTLS://127.0.0.1:9095",
		"listener.security.protocol.map":                      "SASL_SSL:SASL_SSL,BROKER:SASL_SSL,MTLS:SSL",
		"inter.broker.listener.name":                          "BROKER",
		"ssl.keystore.location":                               "/etc/arus/global.pem",
		"ssl.truststore.location":                             "/etc/arus/ca.pem",
		"listener.name.broker.ssl.keystore.location":          "/etc/arus/broker.pem",
		"listener.name.mtls.ssl.client.auth":                  "required",
		"listener.name.mtls.ssl.truststore.location":          "/etc/arus/clients-ca.pem",
		"listener.name.mtls.ssl.principal.mapping.rules":      "RULE:^CN=(.*?),.*$/$1/,DEFAULT",
		"sasl.enabled.mechanisms":                             "PLAIN,SCRAM-SHA-512",
		"listener.name.broker.sasl.enabled.mechanisms":        "SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol":                "SCRAM-SHA-512",
		"listener.name.broker.scram-sha-512.sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="s";`,
		"ssl.endpoint.identification.algorithm":               "",
	}
	var b Broker
	if err := ApplyProperties(&b, props); err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	s := b.Security
	if s.InterBrokerListenerName != "BROKER" || b.InterBrokerListener != "127.0.0.1:9094" || s.InterBrokerMechanism != "SCRAM-SHA-512" {
		t.Fatalf("inter-broker listener %q at %q, mechanism %q", s.InterBrokerListenerName, b.InterBrokerListener, s.InterBrokerMechanism)
	}
	if p, _ := s.InterBrokerProtocol(); p != ProtocolSASLSSL {
		t.Fatalf("inter-broker protocol %s", p)
	}
	if !strings.Contains(s.InterBrokerJAAS(), `username="broker"`) {
		t.Fatalf("inter-broker JAAS %q", s.InterBrokerJAAS())
	}
	if s.EndpointIdentification == nil || *s.EndpointIdentification != "" {
		t.Fatal("ssl.endpoint.identification.algorithm= not kept")
	}
	broker := s.ForListener("BROKER")
	if broker.KeystoreLocation != "/etc/arus/broker.pem" || broker.TruststoreLocation != "/etc/arus/ca.pem" ||
		len(broker.SASLMechanisms) != 1 || broker.SASLMechanisms[0] != "SCRAM-SHA-512" {
		t.Fatalf("BROKER settings %+v", broker)
	}
	mtls := s.ForListener("MTLS")
	if mtls.KeystoreLocation != "/etc/arus/global.pem" || mtls.ClientAuth != "required" || mtls.TruststoreLocation != "/etc/arus/clients-ca.pem" ||
		!strings.HasPrefix(mtls.PrincipalMappingRules, "RULE:") {
		t.Fatalf("MTLS settings %+v", mtls)
	}
	if client := s.ForListener("SASL_SSL"); client.ClientAuth != "" || len(client.SASLMechanisms) != 2 {
		t.Fatalf("SASL_SSL settings %+v", client)
	}
}

// Kafka's older security.inter.broker.protocol names the inter-broker
// listener by its protocol.
func TestSecurityInterBrokerProtocol(t *testing.T) {
	var b Broker
	err := ApplyProperties(&b, map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093",
		"security.inter.broker.protocol": "SSL",
		"ssl.keystore.location":          "/k.pem",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if b.Security.InterBrokerListenerName != "SSL" || b.InterBrokerListener != "127.0.0.1:9093" || b.Listener != "127.0.0.1:9092" {
		t.Fatalf("inter-broker %q at %q, client %q", b.Security.InterBrokerListenerName, b.InterBrokerListener, b.Listener)
	}
}

func TestInterBrokerSecurityMisconfigured(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{
			"listeners":                                   "PLAINTEXT://127.0.0.1:9092,BROKER://127.0.0.1:9094",
			"listener.security.protocol.map":              "PLAINTEXT:PLAINTEXT,BROKER:SASL_SSL",
			"inter.broker.listener.name":                  "BROKER",
			"ssl.keystore.location":                       "/k.pem",
			"listener.name.broker.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="b" password="p" user_b="p";`,
		}
	}
	for name, tc := range map[string]struct {
		change map[string]string
		want   string
	}{
		"no keystore":                 {map[string]string{"ssl.keystore.location": ""}, "needs ssl.keystore.location"},
		"mechanism not enabled":       {map[string]string{"listener.name.broker.sasl.enabled.mechanisms": "SCRAM-SHA-256"}, "not in the sasl.enabled.mechanisms"},
		"unknown mechanism":           {map[string]string{"sasl.mechanism.inter.broker.protocol": "GSSAPI"}, "sasl.mechanism.inter.broker.protocol"},
		"no JAAS":                     {map[string]string{"listener.name.broker.plain.sasl.jaas.config": ""}, "sasl.jaas.config"},
		"JKS per listener":            {map[string]string{"listener.name.broker.ssl.keystore.type": "JKS"}, "PEM files only"},
		"bad endpoint algorithm":      {map[string]string{"ssl.endpoint.identification.algorithm": "dns"}, "identification"},
		"keystore password on BROKER": {map[string]string{"listener.name.broker.ssl.key.password": "x"}, "unencrypted"},
	} {
		t.Run(name, func(t *testing.T) {
			props := base()
			for k, v := range tc.change {
				props[k] = v
			}
			var b Broker
			err := ApplyProperties(&b, props)
			if err == nil {
				err = b.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}
