package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// NamedListener is one client listener besides Broker.Listener
// (listeners=NAME://host:port,...).
type NamedListener struct {
	Name string
	// Addr is host:port to bind; Advertised the host:port to put into
	// Metadata responses for clients of this listener ("" derives it from
	// the bound address, as for Broker.AdvertisedListener).
	Addr       string
	Advertised string
}

// Security protocols of listener.security.protocol.map.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// Security holds the settings of listeners' security, authentication and
// authorization, with Kafka's names. The zero value is Kafka's default:
// PLAINTEXT listeners, no authorizer.
type Security struct {
	// ProtocolMap is listener.security.protocol.map, listener name to
	// protocol; names missing from it map to themselves when they are
	// protocol names (Kafka's default map).
	ProtocolMap map[string]string
	// KeystoreType and TruststoreType are ssl.keystore.type and
	// ssl.truststore.type; arus reads PEM only (the default here).
	KeystoreType, TruststoreType string
	// KeystoreLocation, TruststoreLocation and ClientAuth are
	// ssl.keystore.location, ssl.truststore.location and ssl.client.auth
	// (none, requested, required; default none).
	KeystoreLocation, TruststoreLocation, ClientAuth string
	// PrincipalMappingRules is ssl.principal.mapping.rules (default DEFAULT:
	// the certificate subject's full DN).
	PrincipalMappingRules string
	// SASLMechanisms is sasl.enabled.mechanisms (Kafka's default GSSAPI,
	// which arus does not have; arus defaults to PLAIN, SCRAM-SHA-256,
	// SCRAM-SHA-512).
	SASLMechanisms []string
	// PlainJAAS is listener.name.<listener>.plain.sasl.jaas.config by
	// upper-case listener name, "" key for the unprefixed
	// plain.sasl.jaas.config / sasl.jaas.config.
	PlainJAAS map[string]string
	// AuthorizerClassName is authorizer.class.name; StandardAuthorizer
	// turns authorization on.
	AuthorizerClassName string
	// SuperUsers is super.users, "User:a;User:b".
	SuperUsers string
	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found (false).
	AllowEveryoneIfNoACLFound bool
	// ConnectionsMaxReauth is connections.max.reauth.ms (0: sessions never
	// expire).
	ConnectionsMaxReauth time.Duration
	// FailedAuthenticationDelay is connection.failed.authentication.delay.ms
	// (default 100 ms; negative: none).
	FailedAuthenticationDelay time.Duration
	// InterBrokerListenerName names the inter-broker (and controller)
	// listener (inter.broker.listener.name, controller.listener.names or
	// security.inter.broker.protocol, as the properties file says); its
	// protocol comes from ProtocolMap. "" is a PLAINTEXT inter-broker
	// listener, as --inter-broker-listener alone sets up.
	InterBrokerListenerName string
	// InterBrokerMechanism is sasl.mechanism.inter.broker.protocol: the
	// mechanism brokers log in to each other with on a SASL inter-broker
	// listener (Kafka's default GSSAPI, which arus does not have; arus
	// defaults to PLAIN). The user and password are the username and
	// password options of the inter-broker listener's JAAS config for
	// that mechanism (listener.name.<l>.<mech>.sasl.jaas.config).
	InterBrokerMechanism string
	// EndpointIdentification is ssl.endpoint.identification.algorithm:
	// "https" (the default) checks that a peer's certificate names the
	// host it was dialled at; "" does not.
	EndpointIdentification *string
	// Listeners holds the listener.name.<listener>.* overrides of the SSL
	// and SASL settings, by upper-case listener name.
	Listeners map[string]ListenerSecurity
	// MechanismJAAS is listener.name.<listener>.<mechanism>.sasl.jaas.config
	// for the SCRAM mechanisms, keyed "LISTENER MECHANISM" (upper case).
	MechanismJAAS map[string]string

	// QuotaWindowNum and QuotaWindowSize are quota.window.num (default
	// 11) and quota.window.size.seconds (default 1 s): client quota rates
	// are measured over that many windows of that size.
	QuotaWindowNum  int
	QuotaWindowSize time.Duration
}

// ListenerSecurity are one listener's overrides
// (listener.name.<listener>.ssl.keystore.location, ...); empty fields
// take the unprefixed setting.
type ListenerSecurity struct {
	KeystoreLocation, TruststoreLocation, ClientAuth    string
	KeystoreType, TruststoreType, PrincipalMappingRules string
	SASLMechanisms                                      []string
}

// ForListener returns the SSL and SASL settings of listener name: its
// listener.name.<name>.* overrides over the unprefixed settings.
func (s *Security) ForListener(name string) ListenerSecurity {
	out := ListenerSecurity{KeystoreLocation: s.KeystoreLocation, TruststoreLocation: s.TruststoreLocation, ClientAuth: s.ClientAuth,
		KeystoreType: s.KeystoreType, TruststoreType: s.TruststoreType, PrincipalMappingRules: s.PrincipalMappingRules,
		SASLMechanisms: s.SASLMechanisms}
	o, ok := s.Listeners[name]
	if !ok {
		return out
	}
	pick := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	pick(&out.KeystoreLocation, o.KeystoreLocation)
	pick(&out.TruststoreLocation, o.TruststoreLocation)
	pick(&out.ClientAuth, o.ClientAuth)
	pick(&out.KeystoreType, o.KeystoreType)
	pick(&out.TruststoreType, o.TruststoreType)
	pick(&out.PrincipalMappingRules, o.PrincipalMappingRules)
	if len(o.SASLMechanisms) > 0 {
		out.SASLMechanisms = o.SASLMechanisms
	}
	return out
}

// InterBrokerProtocol is the security protocol of the inter-broker
// listener: its listener.security.protocol.map entry, PLAINTEXT without
// one (Kafka refuses a listener missing from the map; arus's inter-broker
// listener was always PLAINTEXT, and configs written for that keep
// working).
func (s *Security) InterBrokerProtocol() (string, error) {
	if s.InterBrokerListenerName == "" {
		return ProtocolPlaintext, nil
	}
	if p, err := s.Protocol(s.InterBrokerListenerName); err == nil {
		return p, nil
	}
	return ProtocolPlaintext, nil
}

// InterBrokerJAAS is the JAAS config the inter-broker client logs in
// with: listener.name.<l>.<mechanism>.sasl.jaas.config, else
// listener.name.<l>.sasl.jaas.config, else sasl.jaas.config.
func (s *Security) InterBrokerJAAS() string {
	l := s.InterBrokerListenerName
	if j, ok := s.MechanismJAAS[l+" "+s.InterBrokerMechanism]; ok {
		return j
	}
	if j, ok := s.PlainJAAS[l]; ok {
		return j
	}
	return s.PlainJAAS[""]
}

// StandardAuthorizer is the authorizer.class.name that turns on ACLs.
const StandardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

// DefaultFailedAuthenticationDelay is connection.failed.authentication.delay.ms's default.
const DefaultFailedAuthenticationDelay = 100 * time.Millisecond

// Protocol returns the security protocol of listener name.
func (s *Security) Protocol(name string) (string, error) {
	if p, ok := s.ProtocolMap[name]; ok {
		return p, nil
	}
	switch name {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		return name, nil
	}
	return "", fmt.Errorf("listener.security.protocol.map has no entry for listener %s", name)
}

// AuthorizerEnabled reports whether authorizer.class.name turns ACLs on.
func (s *Security) AuthorizerEnabled() bool { return s.AuthorizerClassName == StandardAuthorizer }

func (s *Security) validate() error {
	for name, p := range s.ProtocolMap {
		switch p {
		case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		default:
			return fmt.Errorf("listener.security.protocol.map: %s maps to unknown protocol %s", name, p)
		}
	}
	for _, t := range []string{s.KeystoreType, s.TruststoreType} {
		if t != "" && !strings.EqualFold(t, "PEM") {
			return fmt.Errorf("ssl.keystore.type and ssl.truststore.type: arus reads PEM files only, got %s", t)
		}
	}
	switch s.AuthorizerClassName {
	case "", StandardAuthorizer:
	default:
		return fmt.Errorf("authorizer.class.name: arus implements %s only, got %s", StandardAuthorizer, s.AuthorizerClassName)
	}
	if len(s.SASLMechanisms) == 0 {
		s.SASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
	}
	for name, o := range s.Listeners {
		for _, t := range []string{o.KeystoreType, o.TruststoreType} {
			if t != "" && !strings.EqualFold(t, "PEM") {
				return fmt.Errorf("listener.name.%s.ssl.keystore.type / ssl.truststore.type: arus reads PEM files only, got %s", strings.ToLower(name), t)
			}
		}
	}
	if s.InterBrokerMechanism == "" {
		s.InterBrokerMechanism = "PLAIN"
	}
	switch s.InterBrokerMechanism {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("sasl.mechanism.inter.broker.protocol: arus supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, not %s", s.InterBrokerMechanism)
	}
	if s.EndpointIdentification != nil && *s.EndpointIdentification != "" && !strings.EqualFold(*s.EndpointIdentification, "https") {
		return fmt.Errorf("ssl.endpoint.identification.algorithm must be https or empty, got %s", *s.EndpointIdentification)
	}
	if s.FailedAuthenticationDelay == 0 {
		s.FailedAuthenticationDelay = DefaultFailedAuthenticationDelay
	}
	if s.QuotaWindowNum == 0 {
		s.QuotaWindowNum = 11
	}
	if s.QuotaWindowSize == 0 {
		s.QuotaWindowSize = time.Second
	}
	if s.QuotaWindowNum < 2 || s.QuotaWindowSize < time.Second {
		return fmt.Errorf("quota.window.num must be at least 2 and quota.window.size.seconds at least 1")
	}
	if s.ConnectionsMaxReauth < 0 {
		return fmt.Errorf("connections.max.reauth.ms must not be negative")
	}
	return nil
}

// ClientListeners returns every client listener: Listener (named
// ListenerName) first, then ExtraListeners.
func (b *Broker) ClientListeners() []NamedListener {
	out := []NamedListener{{Name: b.ListenerName, Addr: b.Listener, Advertised: b.AdvertisedListener}}
	return append(out, b.ExtraListeners...)
}

// validateListeners fills ListenerName and checks every client listener's
// protocol and addresses.
func (b *Broker) validateListeners() error {
	if b.ListenerName == "" {
		b.ListenerName = ProtocolPlaintext
	}
	if err := b.Security.validate(); err != nil {
		return err
	}
	if err := b.validateInterBrokerSecurity(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, l := range b.ClientListeners() {
		if seen[l.Name] {
			return fmt.Errorf("listeners: %s named twice", l.Name)
		}
		seen[l.Name] = true
		p, err := b.Security.Protocol(l.Name)
		if err != nil {
			return err
		}
		if (p == ProtocolSSL || p == ProtocolSASLSSL) && b.Security.ForListener(l.Name).KeystoreLocation == "" {
			return fmt.Errorf("listener %s (%s) needs ssl.keystore.location (ssl.keystore.type=PEM: key and certificate chain in one file)", l.Name, p)
		}
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			return fmt.Errorf("listener %s %q: %w", l.Name, l.Addr, err)
		}
		if l.Advertised != "" {
			if _, port, err := net.SplitHostPort(l.Advertised); err != nil {
				return fmt.Errorf("advertised listener %s %q: %w", l.Name, l.Advertised, err)
			} else if _, err := strconv.Atoi(port); err != nil {
				return fmt.Errorf("advertised listener %s %q: bad port", l.Name, l.Advertised)
			}
		}
	}
	return nil
}

// applySecurityProperty sets a security key of a properties file; ok is
// false for keys it does not know.
func applySecurityProperty(s *Security, k, v string) (ok bool, err error) {
	switch k {
	case "listener.security.protocol.map":
		s.ProtocolMap = map[string]string{}
		for _, pair := range strings.Split(v, ",") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, proto, found := strings.Cut(pair, ":")
			if !found {
				return true, fmt.Errorf("want NAME:PROTOCOL pairs")
			}
			s.ProtocolMap[strings.ToUpper(strings.TrimSpace(name))] = strings.ToUpper(strings.TrimSpace(proto))
		}
	case "ssl.keystore.type":
		s.KeystoreType = v
	case "ssl.truststore.type":
		s.TruststoreType = v
	case "ssl.keystore.location":
		s.KeystoreLocation = v
	case "ssl.truststore.location":
		s.TruststoreLocation = v
	case "ssl.client.auth":
		s.ClientAuth = strings.ToLower(v)
	case "ssl.principal.mapping.rules":
		s.PrincipalMappingRules = v
	case "ssl.key.password", "ssl.keystore.password", "ssl.truststore.password":
		if v != "" {
			return true, fmt.Errorf("arus reads unencrypted PEM keys only; remove the password")
		}
	case "ssl.enabled.protocols", "ssl.protocol":
		// Accepted for Kafka files: arus always serves TLS 1.2+.
	case "ssl.endpoint.identification.algorithm":
		v = strings.TrimSpace(v)
		s.EndpointIdentification = &v
	case "sasl.mechanism.inter.broker.protocol":
		s.InterBrokerMechanism = strings.ToUpper(strings.TrimSpace(v))
	case "sasl.enabled.mechanisms":
		s.SASLMechanisms = nil
		for _, m := range strings.Split(v, ",") {
			if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
				s.SASLMechanisms = append(s.SASLMechanisms, m)
			}
		}
	case "authorizer.class.name":
		s.AuthorizerClassName = strings.TrimSpace(v)
	case "super.users":
		s.SuperUsers = v
	case "allow.everyone.if.no.acl.found":
		on, err := strconv.ParseBool(v)
		if err != nil {
			return true, err
		}
		s.AllowEveryoneIfNoACLFound = on
	case "connections.max.reauth.ms", "connection.failed.authentication.delay.ms":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return true, err
		}
		if k == "connections.max.reauth.ms" {
			s.ConnectionsMaxReauth = time.Duration(n) * time.Millisecond
		} else if s.FailedAuthenticationDelay = time.Duration(n) * time.Millisecond; n == 0 {
			s.FailedAuthenticationDelay = -1 // 0 means none; the zero value means the default
		}
	case "quota.window.num", "quota.window.size.seconds":
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return true, err
		}
		if n < 1 {
			return true, fmt.Errorf("must be positive")
		}
		if k == "quota.window.num" {
			s.QuotaWindowNum = int(n)
		} else {
			s.QuotaWindowSize = time.Duration(n) * time.Second
		}
	case "plain.sasl.jaas.config", "sasl.jaas.config":
		setJAAS(s, "", v)
	default:
		rest, found := strings.CutPrefix(k, "listener.name.")
		if !found {
			return false, nil
		}
		name, key, found := strings.Cut(rest, ".")
		if !found {
			return false, nil
		}
		return applyListenerProperty(s, strings.ToUpper(name), key, v)
	}
	return true, nil
}

// applyListenerProperty sets key of a listener.name.<listener>.key
// property.
func applyListenerProperty(s *Security, name, key, v string) (bool, error) {
	switch key {
	case "plain.sasl.jaas.config", "sasl.jaas.config":
		setJAAS(s, name, v)
		return true, nil
	case "scram-sha-256.sasl.jaas.config", "scram-sha-512.sasl.jaas.config":
		if s.MechanismJAAS == nil {
			s.MechanismJAAS = map[string]string{}
		}
		s.MechanismJAAS[name+" "+strings.ToUpper(strings.TrimSuffix(key, ".sasl.jaas.config"))] = v
		return true, nil
	}
	if s.Listeners == nil {
		s.Listeners = map[string]ListenerSecurity{}
	}
	o := s.Listeners[name]
	switch key {
	case "ssl.keystore.location":
		o.KeystoreLocation = v
	case "ssl.truststore.location":
		o.TruststoreLocation = v
	case "ssl.keystore.type":
		o.KeystoreType = v
	case "ssl.truststore.type":
		o.TruststoreType = v
	case "ssl.client.auth":
		o.ClientAuth = strings.ToLower(v)
	case "ssl.principal.mapping.rules":
		o.PrincipalMappingRules = v
	case "sasl.enabled.mechanisms":
		o.SASLMechanisms = nil
		for _, m := range strings.Split(v, ",") {
			if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
				o.SASLMechanisms = append(o.SASLMechanisms, m)
			}
		}
	case "ssl.key.password", "ssl.keystore.password", "ssl.truststore.password":
		if v != "" {
			return true, fmt.Errorf("arus reads unencrypted PEM keys only; remove the password")
		}
	default:
		return false, nil
	}
	s.Listeners[name] = o
	return true, nil
}

// validateInterBrokerSecurity checks what a secured inter-broker listener
// needs: a keystore for SSL and SASL_SSL, and for SASL the inter-broker
// mechanism enabled on it and a JAAS config naming the user brokers log
// in as.
func (b *Broker) validateInterBrokerSecurity() error {
	name := b.Security.InterBrokerListenerName
	p, err := b.Security.InterBrokerProtocol()
	if err != nil {
		return fmt.Errorf("inter.broker.listener.name %s: %w", name, err)
	}
	ls := b.Security.ForListener(name)
	if (p == ProtocolSSL || p == ProtocolSASLSSL) && ls.KeystoreLocation == "" {
		return fmt.Errorf("inter-broker listener %s (%s) needs ssl.keystore.location (or listener.name.%s.ssl.keystore.location)",
			name, p, strings.ToLower(name))
	}
	if p == ProtocolSASLPlaintext || p == ProtocolSASLSSL {
		enabled := false
		for _, m := range ls.SASLMechanisms {
			enabled = enabled || m == b.Security.InterBrokerMechanism
		}
		if !enabled {
			return fmt.Errorf("sasl.mechanism.inter.broker.protocol %s is not in the sasl.enabled.mechanisms of the inter-broker listener %s (%v)",
				b.Security.InterBrokerMechanism, name, ls.SASLMechanisms)
		}
		if b.Security.InterBrokerJAAS() == "" {
			return fmt.Errorf("inter-broker listener %s (%s) needs listener.name.%s.%s.sasl.jaas.config with the username and password brokers log in with",
				name, p, strings.ToLower(name), strings.ToLower(b.Security.InterBrokerMechanism))
		}
	}
	return nil
}

func setJAAS(s *Security, listener, v string) {
	if s.PlainJAAS == nil {
		s.PlainJAAS = map[string]string{}
	}
	s.PlainJAAS[listener] = v
}
